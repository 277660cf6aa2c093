"""The report's metrics for one method's scores on one labelled set.

ROC-AUC and PR-AUC (average precision) are sklearn's. "Recall at 1 % FPR" is the recall at the
lowest threshold whose false-positive rate on the negatives is at most ``max_fpr``; thresholds
are only placed between distinct scores (tied windows are flagged together), so a method with
many tied top scores cannot claim recall it does not have. Per fraud type, the same threshold
(set on all negatives) is applied to that type's positives.

>>> import numpy as np
>>> y = np.array([0] * 100 + [1, 1])
>>> s = np.r_[np.arange(100) / 100, 0.995, 0.5]
>>> recall_at_fpr(y, s, max_fpr=0.01)   # one negative (0.99) may be above the line
(0.5, 0.99)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score


def fpr_key(max_fpr: float) -> str:
    """The metric's name for an FPR budget: 0.01 -> ``recall_at_1pct_fpr``.

    >>> fpr_key(0.01), fpr_key(0.001)
    ('recall_at_1pct_fpr', 'recall_at_0.1pct_fpr')
    """
    pct = f"{max_fpr * 100:g}"
    return f"recall_at_{pct}pct_fpr"


def threshold_at_fpr(labels: np.ndarray, scores: np.ndarray, max_fpr: float = 0.01) -> float:
    """Lowest score threshold (flag ``score >= t``) with FPR <= ``max_fpr``; inf if none."""
    y = np.asarray(labels).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    neg = np.sort(s[~y])[::-1]
    if neg.size == 0:
        return float(np.min(s)) if s.size else float("inf")
    allowed = int(np.floor(max_fpr * neg.size + 1e-9))  # negatives that may be flagged
    distinct = np.unique(s)[::-1]  # candidate thresholds, high to low
    # Negatives flagged at each candidate t: count of neg >= t.
    flagged = np.searchsorted(-neg, -distinct, side="right")
    ok = np.flatnonzero(flagged <= allowed)
    return float(distinct[ok[-1]]) if ok.size else float("inf")


def recall_at_fpr(
    labels: np.ndarray, scores: np.ndarray, max_fpr: float = 0.01
) -> tuple[float, float]:
    """(recall, threshold) at the lowest threshold whose FPR is at most ``max_fpr``."""
    y = np.asarray(labels).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    t = threshold_at_fpr(y, s, max_fpr)
    if not y.any():
        return float("nan"), t
    return float((s[y] >= t).mean()), t


def _safe(fn: Any, y: np.ndarray, s: np.ndarray) -> float:
    return float(fn(y, s)) if 0 < y.sum() < y.size else float("nan")


def _r(x: float, nd: int = 4) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), nd)


def score_metrics(
    labels: np.ndarray,
    scores: np.ndarray,
    threshold: float | None,
    fraud_types: np.ndarray | None = None,
    max_fpr: float = 0.01,
) -> dict[str, Any]:
    """All report metrics of one method on one set (JSON-ready; NaN becomes None).

    >>> y = np.array([0, 0, 0, 1, 1]); s = np.array([0.1, 0.2, 0.7, 0.8, 0.6])
    >>> m = score_metrics(y, s, threshold=0.65, fraud_types=np.array([None] * 3 + ["a", "b"]))
    >>> m["roc_auc"], m["precision"], m["recall"], m["per_type"]["b"]["recall_at_threshold"]
    (0.8333, 0.5, 0.5, 0.0)
    """
    y = np.asarray(labels).astype(int)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape:
        raise ValueError(f"labels {y.shape} and scores {s.shape} differ in shape")
    if not np.isfinite(s).all():
        raise ValueError("scores contain NaN or inf")
    key = fpr_key(max_fpr)
    out: dict[str, Any] = {
        "n": int(y.size),
        "positives": int(y.sum()),
        "roc_auc": _r(_safe(roc_auc_score, y, s)),
        "pr_auc": _r(_safe(average_precision_score, y, s)),
        "base_rate": _r(y.mean() if y.size else float("nan"), 5),
    }
    rec_fpr, t_fpr = recall_at_fpr(y, s, max_fpr)
    out[key] = _r(rec_fpr)
    out["threshold_at_fpr"] = _r(t_fpr, 6)
    if threshold is not None:
        pred = s >= threshold
        tp = int((pred & (y == 1)).sum())
        fp = int((pred & (y == 0)).sum())
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / y.sum() if y.sum() else float("nan")
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
        out.update(
            threshold=_r(threshold, 6),
            alerts=int(pred.sum()),
            precision=_r(precision),
            recall=_r(recall),
            f1=_r(f1),
            fpr_at_threshold=_r(fp / max(int((y == 0).sum()), 1), 5),
        )
    else:
        out.update(threshold=None, alerts=None, precision=None, recall=None, f1=None)
    if fraud_types is not None:
        types = np.asarray(fraud_types, dtype=object)
        per: dict[str, dict[str, Any]] = {}
        for t in sorted({str(v) for v, yy in zip(types, y, strict=True) if yy == 1}):
            sel = (y == 1) & (types.astype(str) == t)
            per[t] = {
                "n": int(sel.sum()),
                "recall_at_threshold": None
                if threshold is None
                else _r(float((s[sel] >= threshold).mean())),
                key: _r(float((s[sel] >= t_fpr).mean())),
            }
        out["per_type"] = per
    return out
