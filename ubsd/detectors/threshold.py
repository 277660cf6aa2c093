"""Choosing an alert threshold on validation scores.

With labels: the lowest threshold whose precision reaches the target (most recall at that
precision); if no threshold reaches it, the one with the best precision. Without labels (or
when an alert budget is given): the score quantile that flags ``alert_rate`` of windows.

>>> import numpy as np
>>> s = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
>>> y = np.array([0, 0, 1, 1, 1])
>>> choose_threshold(s, y, target_precision=1.0)
0.3
>>> choose_threshold(s, None, alert_rate=0.4)
0.8
"""

from __future__ import annotations

import numpy as np


def choose_threshold(
    scores: np.ndarray,
    labels: np.ndarray | None,
    target_precision: float | None = None,
    alert_rate: float | None = None,
) -> float:
    scores = np.asarray(scores, dtype=np.float64)
    if scores.size == 0:
        raise ValueError("cannot choose a threshold on no scores")
    if alert_rate is not None or labels is None or target_precision is None:
        rate = 0.01 if alert_rate is None else float(alert_rate)
        if not 0 < rate <= 1:
            raise ValueError(f"alert_rate must be in (0, 1], got {rate}")
        k = max(1, round(rate * scores.size))
        return float(np.sort(scores)[::-1][k - 1])
    labels = np.asarray(labels).astype(bool)
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    tp = np.cumsum(y)
    k = np.arange(1, s.size + 1)
    # Only cut between distinct scores: everything tied with s[i] is flagged together.
    last_of_tie = np.r_[s[1:] != s[:-1], True]
    precision = np.where(last_of_tie, tp / k, -1.0)
    ok = np.flatnonzero(precision >= target_precision)
    if ok.size:
        return float(s[ok[-1]])
    return float(s[int(np.argmax(precision))])
