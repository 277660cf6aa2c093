"""Ingest: raw events in, validated events and quarantined rows out, every row accounted for."""

from ubsd.ingest.job import IngestError, QuarantineRateError, run_ingest

__all__ = ["IngestError", "QuarantineRateError", "run_ingest"]
