"""ubsd: detect fraudulent and anomalous user behavior sequences in clickstreams.

Layers, bottom to top (enforced by import-linter, see pyproject.toml):
``io`` (schemas, tables, paths) -> ``config`` -> ``spark`` -> ``synth`` | ``ingest`` ->
``sessionize`` -> ``pipeline``.
"""

__version__ = "0.1.0"
