"""Splits by time **and** by user, so no evaluation number comes from a user or a day seen in
training (random window splits and duplicated sequences inflated published log-anomaly results).

The rule (:class:`SplitPlan`):

1. **Time.** The run's dates, sorted, are cut once: the first ``train_date_fraction`` of them
   (at least one, leaving at least one) are *training dates*, the rest *evaluation dates*.
2. **Users.** Every user is assigned to one side by a keyed hash of ``user_id`` (stable across
   runs and batches, no state): ``test`` with probability ``test_user_fraction``, ``validation``
   with ``validation_user_fraction``, else ``train``.
3. A window (dated by its first event) goes to
   ``train`` if its user is a train user and its date a training date; to ``validation`` /
   ``test`` if its user is a validation / test user and its date an evaluation date; otherwise it
   is **dropped** (train users' later windows, held-out users' earlier ones).

So train precedes validation and test in time, and the three sides share no user. Windows are
counted as rows of the windows table: a session longer than L yields overlapping windows
(stride S), each counted once. :func:`duplicate_report` counts windows whose model inputs are
byte-identical to another's, within a side and across sides (short windows repeat often).

>>> import datetime as dt
>>> import numpy as np
>>> from ubsd.io.window_arrays import WindowArrays
>>> days = [dt.date(2026, 11, d) for d in (1, 1, 2, 2, 2)]
>>> w = WindowArrays.from_columns({
...     "mask": np.ones((5, 2), int), "user_id": ["d", "a", "d", "a", "b"], "date": days,
... }, window_length=2)
>>> plan = SplitPlan.from_dates(sorted(set(days)), train_date_fraction=0.5,
...                             validation_user_fraction=0.3, test_user_fraction=0.3)
>>> [str(d) for d in plan.train_dates], [str(d) for d in plan.eval_dates]
(['2026-11-01'], ['2026-11-02'])
>>> plan.user_sides(["a", "b", "d"]).tolist()
['test', 'validation', 'train']
>>> plan.sides(w).tolist()
['train', '', '', 'test', 'validation']
>>> s = split_windows(w, plan)
>>> s.summary["windows"], s.summary["user_overlap"]["train_test"]
({'train': 1, 'validation': 1, 'test': 1, 'dropped': 2}, 0)
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ubsd.io.schemas import WINDOW_MODEL_INPUTS
from ubsd.io.window_arrays import WindowArrays

SIDES: tuple[str, ...] = ("train", "validation", "test")
RULE = (
    "time and user: the first train_date_fraction of the dates are training dates, the rest "
    "evaluation dates; each user is hashed to one side (train / validation / test); a window "
    "goes to train if train user and training date, to validation/test if such a user and an "
    "evaluation date, else it is dropped. Windows are rows of the windows table (overlapping "
    "windows of a long session each count once)."
)


def _as_date(v: Any) -> dt.date:
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    if isinstance(v, np.datetime64):
        return dt.date.fromisoformat(str(v.astype("datetime64[D]")))
    return dt.date.fromisoformat(str(v)[:10])


def user_unit(user_ids: Sequence[Any] | np.ndarray, seed: int = 0) -> np.ndarray:
    """A uniform number in [0, 1) per user id, from sha256(seed|user_id): stable, stateless.

    >>> u = user_unit(["a", "b", "a"])
    >>> bool(u[0] == u[2]), bool(0 <= u.min() and u.max() < 1)
    (True, True)
    """
    out = np.empty(len(user_ids), dtype=np.float64)
    cache: dict[Any, float] = {}
    for i, uid in enumerate(user_ids):
        v = cache.get(uid)
        if v is None:
            h = hashlib.sha256(f"{seed}|{uid}".encode()).digest()
            v = cache[uid] = int.from_bytes(h[:8], "big") / 2.0**64
        out[i] = v
    return out


@dataclass(frozen=True)
class SplitPlan:
    """Which dates are training dates, and how users are hashed to sides (see module doc)."""

    train_dates: tuple[dt.date, ...]
    eval_dates: tuple[dt.date, ...]
    validation_user_fraction: float = 0.2
    test_user_fraction: float = 0.3
    seed: int = 0

    def __post_init__(self) -> None:
        # Dates may arrive as ISO strings (a plan sent to DDP ranks as JSON); compared with
        # the windows' dates as strings they would match nothing and leave no training data.
        for name in ("train_dates", "eval_dates"):
            object.__setattr__(self, name, tuple(_as_date(d) for d in getattr(self, name)))
        v, t = self.validation_user_fraction, self.test_user_fraction
        if not (0 <= v < 1 and 0 < t < 1 and v + t < 1):
            raise ValueError("user fractions: 0 <= validation, 0 < test, validation + test < 1")
        if set(self.train_dates) & set(self.eval_dates):
            raise ValueError("a date cannot be both a training and an evaluation date")
        if self.train_dates and self.eval_dates and max(self.train_dates) >= min(self.eval_dates):
            raise ValueError("training dates must all precede the evaluation dates")

    @classmethod
    def from_dates(
        cls,
        dates: Sequence[dt.date | str],
        train_date_fraction: float = 0.6,
        validation_user_fraction: float = 0.2,
        test_user_fraction: float = 0.3,
        seed: int = 0,
    ) -> SplitPlan:
        """Cut sorted ``dates``: the first ``train_date_fraction`` (rounded, >= 1) train."""
        days = sorted({_as_date(d) for d in dates})
        if len(days) < 2:
            raise ValueError("a time split needs at least two dates")
        k = min(len(days) - 1, max(1, round(len(days) * train_date_fraction)))
        return cls(
            tuple(days[:k]),
            tuple(days[k:]),
            validation_user_fraction,
            test_user_fraction,
            seed,
        )

    def user_sides(self, user_ids: Sequence[Any] | np.ndarray) -> np.ndarray:
        """'train' / 'validation' / 'test' per user id."""
        u = user_unit(user_ids, self.seed)
        t, v = self.test_user_fraction, self.validation_user_fraction
        return np.where(u < t, "test", np.where(u < t + v, "validation", "train")).astype(object)

    def sides(self, windows: WindowArrays) -> np.ndarray:
        """Side per window ('' = dropped); works on any batch, so training can stream."""
        if "user_id" not in windows.meta or "date" not in windows.meta:
            raise ValueError("splitting needs the user_id and date metadata columns")
        users = self.user_sides(windows.meta["user_id"])
        dates = np.array([_as_date(d) for d in windows.meta["date"]], dtype=object)
        train_d = np.isin(dates, np.array(self.train_dates, dtype=object))
        eval_d = np.isin(dates, np.array(self.eval_dates, dtype=object))
        out = np.full(windows.n, "", dtype=object)
        out[(users == "train") & train_d] = "train"
        out[(users == "validation") & eval_d] = "validation"
        out[(users == "test") & eval_d] = "test"
        return out

    def describe(self) -> dict[str, Any]:
        return {
            "rule": RULE,
            "train_dates": [d.isoformat() for d in self.train_dates],
            "eval_dates": [d.isoformat() for d in self.eval_dates],
            "validation_user_fraction": self.validation_user_fraction,
            "test_user_fraction": self.test_user_fraction,
            "seed": self.seed,
        }


@dataclass
class Split:
    """The three sides as WindowArrays, the plan that made them and a summary (counts)."""

    train: WindowArrays
    validation: WindowArrays
    test: WindowArrays
    plan: SplitPlan
    summary: dict[str, Any] = field(default_factory=dict)

    def side(self, name: str) -> WindowArrays:
        return {"train": self.train, "validation": self.validation, "test": self.test}[name]


def _labels_or_zeros(w: WindowArrays) -> np.ndarray:
    lab = w.labels
    return np.zeros(w.n, dtype=np.int64) if lab is None else lab


def _side_counts(w: WindowArrays) -> dict[str, Any]:
    lab = _labels_or_zeros(w)
    types = Counter(str(t) for t, y in zip(w.fraud_types, lab, strict=True) if y == 1)
    sessions = w.meta.get("session_id")
    return {
        "windows": w.n,
        "positive_windows": int(lab.sum()),
        "positive_share": round(float(lab.mean()), 5) if w.n else 0.0,
        "positive_windows_by_type": dict(sorted(types.items())),
        "users": len(set(w.meta.get("user_id", []))),
        "sessions": None if sessions is None else len(set(sessions)),
    }


def content_keys(w: WindowArrays) -> np.ndarray:
    """One int per window, equal iff the windows' model inputs are identical (all arrays)."""
    cols = [w.features[k] for k in WINDOW_MODEL_INPUTS if k in w.features]
    if w.n == 0:
        return np.zeros(0, dtype=np.int64)
    stacked = np.ascontiguousarray(np.concatenate(cols, axis=1))
    _, inverse = np.unique(stacked, axis=0, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64)


def duplicate_report(split: Split) -> dict[str, Any]:
    """Windows with identical model inputs: within each side, and evaluation sides vs train."""
    parts = [split.train, split.validation, split.test]
    non_empty = [p for p in parts if p.n]
    if not non_empty:
        return {}
    keys = content_keys(WindowArrays.concat(non_empty))
    out: dict[str, Any] = {}
    off = 0
    by_side: dict[str, np.ndarray] = {}
    for name, p in zip(SIDES, parts, strict=True):
        by_side[name] = keys[off : off + p.n]
        off += p.n
    for name, p in zip(SIDES, parts, strict=True):
        k = by_side[name]
        lab = _labels_or_zeros(p)
        _, first = np.unique(k, return_index=True)
        repeated = np.ones(k.size, bool)
        repeated[first] = False
        entry = {
            "repeated_within": int(repeated.sum()),
            "distinct": int(np.unique(k).size),
        }
        if name != "train":
            in_train = np.isin(k, by_side["train"])
            entry["also_in_train"] = int(in_train.sum())
            entry["positives_also_in_train"] = int((in_train & (lab == 1)).sum())
            # Same content, opposite label in train: unavoidable confusion for any method.
            entry["also_in_train_with_other_label"] = _cross_label(
                k, lab, by_side["train"], _labels_or_zeros(split.train)
            )
        out[name] = entry
    return out


def _cross_label(k: np.ndarray, lab: np.ndarray, k_train: np.ndarray, lab_train: np.ndarray) -> int:
    pos_train = set(k_train[lab_train == 1].tolist())
    neg_train = set(k_train[lab_train == 0].tolist())
    return int(
        sum(
            1
            for key, y in zip(k.tolist(), lab.tolist(), strict=True)
            if (key in neg_train if y == 1 else key in pos_train)
        )
    )


def split_windows(
    windows: WindowArrays,
    plan: SplitPlan | None = None,
    *,
    train_date_fraction: float = 0.6,
    validation_user_fraction: float = 0.2,
    test_user_fraction: float = 0.3,
    seed: int = 0,
) -> Split:
    """Split ``windows`` with ``plan`` (or one built from their dates and the fractions)."""
    if plan is None:
        plan = SplitPlan.from_dates(
            list(windows.meta["date"]),
            train_date_fraction,
            validation_user_fraction,
            test_user_fraction,
            seed,
        )
    sides = plan.sides(windows)
    parts = {name: windows.take(np.flatnonzero(sides == name)) for name in SIDES}
    split = Split(parts["train"], parts["validation"], parts["test"], plan)
    users = {n: set(p.meta.get("user_id", [])) for n, p in parts.items()}
    split.summary = {
        **plan.describe(),
        "windows": {**{n: p.n for n, p in parts.items()}, "dropped": int((sides == "").sum())},
        "sides": {n: _side_counts(p) for n, p in parts.items()},
        "user_overlap": {
            "train_validation": len(users["train"] & users["validation"]),
            "train_test": len(users["train"] & users["test"]),
            "validation_test": len(users["validation"] & users["test"]),
        },
        "duplicates": duplicate_report(split),
    }
    return split


def split_from_settings(windows: WindowArrays, cfg: Any) -> Split:
    """:func:`split_windows` with the fractions of an ``EvaluationSettings``-like object."""
    return split_windows(
        windows,
        train_date_fraction=cfg.train_date_fraction,
        validation_user_fraction=cfg.validation_user_fraction,
        test_user_fraction=cfg.test_user_fraction,
        seed=cfg.split_seed,
    )
