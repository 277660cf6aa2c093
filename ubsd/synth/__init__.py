"""Deterministic, labelled synthetic clickstreams: the project's embedded default data.

``generate(get_profile("demo"), out_dir)`` writes raw events (JSON lines or Parquet, one folder
per UTC date), per-event fraud labels and a manifest of everything injected. Pure numpy, pandas
and pyarrow: no Spark needed to make data.
"""

from ubsd.synth.generator import generate
from ubsd.synth.manifest import Manifest
from ubsd.synth.profiles import FRAUD_TYPES, PROFILES, Profile, get_profile, scaled, with_overrides

__all__ = [
    "FRAUD_TYPES",
    "PROFILES",
    "Manifest",
    "Profile",
    "generate",
    "get_profile",
    "scaled",
    "with_overrides",
]
