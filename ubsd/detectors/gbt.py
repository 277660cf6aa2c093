"""Gradient-boosted trees on per-window aggregates: the strong supervised tabular baseline.

sklearn's ``HistGradientBoostingClassifier`` with ``class_weight="balanced"`` (fraud windows are
a few percent). Early stopping uses the validation windows when given (their log loss), else an
internal 15 % hold-out of the training windows. Score = fraud probability.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

from ubsd.detectors.aggregates import aggregate_matrix
from ubsd.detectors.base import Detector
from ubsd.io.window_arrays import WindowArrays


class GBTDetector(Detector):
    name = "gbt"
    supervised = True

    def __init__(self, max_iter: int = 400, learning_rate: float = 0.05, seed: int = 0):
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.seed = seed
        self.model: HistGradientBoostingClassifier | None = None

    def _new(self, early_stopping: bool) -> HistGradientBoostingClassifier:
        return HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            class_weight="balanced",
            early_stopping=early_stopping,
            validation_fraction=0.15,
            n_iter_no_change=20,
            random_state=self.seed,
        )

    def fit(self, windows, labels=None, validation=None) -> GBTDetector:
        if labels is None:
            raise ValueError("gbt is supervised: fit() needs labels")
        y = np.asarray(labels).astype(int)
        if len(np.unique(y)) < 2:
            raise ValueError("gbt needs both classes in the training labels")
        x, _ = aggregate_matrix(windows)
        vy = None if validation is None else np.asarray(validation[1]).astype(int)
        if vy is not None and len(np.unique(vy)) == 2:
            # Pick the number of trees on the validation windows, then keep that model.
            self.model = self._new(early_stopping=False).fit(x, y)
            vx, _ = aggregate_matrix(validation[0])
            losses = [_log_loss(vy, p[:, 1]) for p in self.model.staged_predict_proba(vx)]
            best = int(np.argmin(losses)) + 1
            if best < self.model.n_iter_:
                self.model = self._new(early_stopping=False).set_params(max_iter=best).fit(x, y)
        else:
            self.model = self._new(early_stopping=True).fit(x, y)
        return self

    def score(self, windows: WindowArrays) -> np.ndarray:
        if self.model is None:
            raise RuntimeError("gbt: call fit() first")
        x, _ = aggregate_matrix(windows)
        return self.model.predict_proba(x)[:, 1]


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    w = np.where(y == 1, 0.5 / max(y.mean(), 1e-9), 0.5 / max(1 - y.mean(), 1e-9))
    return float(-(w * (y * np.log(p) + (1 - y) * np.log(1 - p))).sum() / w.sum())
