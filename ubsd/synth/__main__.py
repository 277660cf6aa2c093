"""``python -m ubsd.synth``: see ``ubsd.synth.cli``."""

from ubsd.synth.cli import main

raise SystemExit(main())
