"""Detectors: the shared contract (fit / score / threshold_) and the baselines."""

from ubsd.detectors.base import Detector
from ubsd.detectors.threshold import choose_threshold

__all__ = ["Detector", "choose_threshold"]
