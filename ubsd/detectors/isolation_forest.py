"""IsolationForest on per-window aggregates: the classic unsupervised tabular baseline.

Labels are ignored. Score = the negated ``score_samples`` (higher = more isolated).
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import IsolationForest

from ubsd.detectors.aggregates import aggregate_matrix
from ubsd.detectors.base import Detector
from ubsd.io.window_arrays import WindowArrays


class IsolationForestDetector(Detector):
    name = "isolation_forest"
    supervised = False

    def __init__(self, n_estimators: int = 200, max_samples: int | str = 256, seed: int = 0):
        self.model = IsolationForest(
            n_estimators=n_estimators, max_samples=max_samples, random_state=seed, n_jobs=1
        )

    def fit(self, windows, labels=None, validation=None) -> IsolationForestDetector:
        x, _ = aggregate_matrix(windows)
        self.model.fit(x)
        return self

    def score(self, windows: WindowArrays) -> np.ndarray:
        x, _ = aggregate_matrix(windows)
        return -self.model.score_samples(x)
