"""The one detector contract, shared by the transformer and every baseline (as in PyOD).

``fit`` learns from windows (labels optional: unsupervised detectors ignore them), ``score``
returns one float per window, higher = more anomalous, and ``threshold_`` (chosen on validation
data by :func:`ubsd.detectors.threshold.choose_threshold`) turns scores into alerts. With one
contract, a baseline in the evaluation is one line.

>>> import numpy as np
>>> from ubsd.io.window_arrays import WindowArrays
>>> class Longest(Detector):
...     name = "longest"
...     def fit(self, windows, labels=None, validation=None):
...         return self
...     def score(self, windows):
...         return windows.lengths().astype(float)
>>> w = WindowArrays.from_columns({"mask": [[1, 0], [1, 1]]}, window_length=2)
>>> det = Longest().fit(w).calibrate(w, np.array([0, 1]), target_precision=0.9)
>>> det.predict(w).tolist(), det.threshold_
([False, True], 2.0)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from ubsd.detectors.threshold import choose_threshold
from ubsd.io.window_arrays import WindowArrays


class Detector(ABC):
    """fit / score (higher = more anomalous) / threshold_ stored with the detector."""

    name: str = "detector"
    #: Whether ``fit`` uses labels (False: unsupervised or zero-label).
    supervised: bool = False
    threshold_: float | None = None

    @abstractmethod
    def fit(
        self,
        windows: WindowArrays,
        labels: np.ndarray | None = None,
        validation: tuple[WindowArrays, np.ndarray] | None = None,
    ) -> Detector:
        """Learn from ``windows``; ``validation`` (windows, labels) may drive early stopping."""

    @abstractmethod
    def score(self, windows: WindowArrays) -> np.ndarray:
        """One float per window; higher = more anomalous."""

    def calibrate(
        self,
        windows: WindowArrays,
        labels: np.ndarray | None,
        target_precision: float | None = None,
        alert_rate: float | None = None,
    ) -> Detector:
        """Set ``threshold_`` on validation data (target precision, or an alert budget)."""
        self.threshold_ = choose_threshold(
            self.score(windows),
            labels,
            target_precision=target_precision,
            alert_rate=alert_rate,
        )
        return self

    def predict(self, windows: WindowArrays) -> np.ndarray:
        """Boolean alerts: score at or above the stored threshold."""
        if self.threshold_ is None:
            raise RuntimeError(f"{self.name}: no threshold_; call calibrate() first")
        return self.score(windows) >= self.threshold_

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "supervised": self.supervised, "threshold": self.threshold_}
