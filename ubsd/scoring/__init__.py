"""Nightly scoring: champion model inference across executors, labels table with reasons."""

from ubsd.scoring.job import run_scoring
from ubsd.scoring.pin import ScoringError

__all__ = ["ScoringError", "run_scoring"]
