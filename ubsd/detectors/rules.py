"""Rate and regularity rules: the hand-written baseline a fraud team starts with.

Four rules, each a statistic of the window's aggregates with a threshold:

* **rate** — events per second;
* **regularity** — ``1 / (CV of inter-event gaps + 0.05)``: machine-regular timing (windows
  with at least ``min_gaps`` gaps; others score 0 on it);
* **ad-click rate** — ad clicks per minute;
* **item repeats** — the most events on one item (bucket).

``fit`` uses **no labels**: each threshold is the ``quantile`` (default 0.99) of its statistic on
the training windows, i.e. "alert on the top 1 % of traffic by this measure". The score is the
largest ratio statistic / threshold over the rules, so a score >= 1 means at least one rule
fires, and the ratio still ranks windows below and above that line.

>>> import numpy as np
>>> from ubsd.io.window_arrays import WindowArrays
>>> gaps = np.full((3, 8), 30.0); gaps[2] = 0.5               # window 2: fast and regular
>>> gaps[:2] *= np.random.default_rng(0).lognormal(0, 1, (2, 8))
>>> w = WindowArrays.from_columns({"mask": np.ones((3, 8), int), "dt_seconds": gaps}, 8)
>>> s = RulesDetector(quantile=0.5).fit(w).score(w)
>>> int(np.argmax(s))
2
"""

from __future__ import annotations

import numpy as np

from ubsd.detectors.aggregates import aggregate_features
from ubsd.detectors.base import Detector
from ubsd.io.window_arrays import WindowArrays


def rule_statistics(w: WindowArrays, min_gaps: int = 4) -> dict[str, np.ndarray]:
    """The four rule statistics per window (higher = more suspicious)."""
    f = aggregate_features(w)
    enough = f["n_gaps"] >= min_gaps
    minutes = np.maximum(f["duration_s"], 1.0) / 60.0
    return {
        "rate": np.where(f["n_gaps"] >= 2, f["events_per_s"], 0.0),
        "regularity": np.where(enough, 1.0 / (f["dt_cv"] + 0.05), 0.0),
        "ad_click_rate": np.where(f["n_gaps"] >= 2, f["count_ad_click"] / minutes, 0.0),
        "item_repeats": f["item_max_repeat"],
    }


class RulesDetector(Detector):
    """Max over rules of statistic / threshold; thresholds are unlabeled training quantiles."""

    name = "rules"
    supervised = False

    def __init__(self, quantile: float = 0.99, min_gaps: int = 4) -> None:
        self.quantile = quantile
        self.min_gaps = min_gaps
        self.thresholds_: dict[str, float] = {}

    def fit(self, windows, labels=None, validation=None) -> RulesDetector:
        stats = rule_statistics(windows, self.min_gaps)
        self.thresholds_ = {
            k: max(float(np.quantile(v, self.quantile)), 1e-6) for k, v in stats.items()
        }
        return self

    def score(self, windows: WindowArrays) -> np.ndarray:
        if not self.thresholds_:
            raise RuntimeError("rules: call fit() first")
        stats = rule_statistics(windows, self.min_gaps)
        ratios = [stats[k] / t for k, t in self.thresholds_.items()]
        return np.max(np.vstack(ratios), axis=0)

    def describe(self) -> dict:
        return {**super().describe(), "rule_thresholds": self.thresholds_}
