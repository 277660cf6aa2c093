"""Splits by time and by user: no shared user, training dates first, every window accounted for."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_detectors import make_windows

from ubsd.io.window_arrays import WindowArrays
from ubsd.training.splits import SplitPlan, content_keys, split_windows, user_unit

DAYS = [dt.date(2026, 11, 1) + dt.timedelta(days=i) for i in range(5)]


def _windows(n: int = 600, n_users: int = 80, seed: int = 0) -> WindowArrays:
    rng = np.random.default_rng(seed)
    users = [f"user{u}" for u in rng.integers(0, n_users, n)]
    dates = [DAYS[d] for d in rng.integers(0, len(DAYS), n)]
    return make_windows(n - 20, 20, seed=seed, users=users, dates=dates)


def _dates(w: WindowArrays) -> set[dt.date]:
    return set(w.meta["date"].tolist())


def test_sides_share_no_user_and_train_comes_first():
    w = _windows()
    s = split_windows(w, train_date_fraction=0.6, validation_user_fraction=0.2)
    users = {n: set(s.side(n).meta["user_id"]) for n in ("train", "validation", "test")}
    assert not users["train"] & users["test"]
    assert not users["train"] & users["validation"]
    assert not users["validation"] & users["test"]
    assert max(_dates(s.train)) < min(_dates(s.validation) | _dates(s.test))
    assert _dates(s.train) == set(DAYS[:3]) and _dates(s.test) <= set(DAYS[3:])
    counts = s.summary["windows"]
    assert counts["train"] + counts["validation"] + counts["test"] + counts["dropped"] == w.n
    assert min(counts["train"], counts["validation"], counts["test"]) > 0
    assert s.summary["user_overlap"] == {
        "train_validation": 0,
        "train_test": 0,
        "validation_test": 0,
    }
    assert s.summary["train_dates"] == [d.isoformat() for d in DAYS[:3]]


def test_split_is_deterministic_and_works_per_batch():
    w = _windows(seed=3)
    plan = SplitPlan.from_dates(DAYS, 0.6, 0.2, 0.3, seed=5)
    whole = plan.sides(w)
    batched = np.concatenate(
        [plan.sides(w.take(np.arange(i, min(i + 64, w.n)))) for i in range(0, w.n, 64)]
    )
    assert whole.tolist() == batched.tolist()
    assert split_windows(w, plan).summary == split_windows(w, plan).summary
    other_seed = SplitPlan.from_dates(DAYS, 0.6, 0.2, 0.3, seed=6).sides(w)
    assert other_seed.tolist() != whole.tolist()


def test_a_plan_sent_as_json_splits_the_same(tmp_path):
    """DDP ranks rebuild the plan from JSON (ISO date strings): same sides, and a filter that
    keeps nothing stops the training stream with an error instead of cycling forever."""
    import json

    from ubsd.training.batches import streamed_batches

    w = _windows(seed=4)
    plan = SplitPlan.from_dates(DAYS, 0.6, 0.2, 0.3, seed=5)
    sent = json.loads(
        json.dumps(
            {
                "train_dates": [d.isoformat() for d in plan.train_dates],
                "eval_dates": [d.isoformat() for d in plan.eval_dates],
                "validation_user_fraction": 0.2,
                "test_user_fraction": 0.3,
                "seed": 5,
            }
        )
    )
    again = SplitPlan(**sent)
    assert again == plan and again.sides(w).tolist() == plan.sides(w).tolist()
    path = str(tmp_path / "w.parquet")
    w.to_parquet(path)
    rng, length = np.random.default_rng(0), w.window_length
    train = streamed_batches([path], length, 16, rng, keep=lambda b: again.sides(b) == "train")
    assert (again.sides(next(train)) == "train").all()
    nothing = streamed_batches([path], length, 16, rng, keep=lambda b: np.zeros(b.n, bool))
    with pytest.raises(ValueError, match="no training windows"):
        next(nothing)


def test_user_fractions_are_respected_roughly():
    users = [f"u{i}" for i in range(20_000)]
    sides = SplitPlan.from_dates(DAYS, 0.6, 0.2, 0.3).user_sides(users)
    assert abs((sides == "test").mean() - 0.3) < 0.02
    assert abs((sides == "validation").mean() - 0.2) < 0.02
    u = user_unit(users)
    assert u.min() >= 0 and u.max() < 1


def test_duplicates_are_counted_within_and_across_sides():
    w = _windows(seed=1)
    s = split_windows(w)
    # Copy two training windows into the test side (same content, test user, eval date).
    copies = s.train.take([0, 1])
    copies.meta["user_id"] = np.array(list(s.test.meta["user_id"][:2]), dtype=object)
    copies.meta["date"] = np.array(list(s.test.meta["date"][:2]), dtype=object)
    s2 = split_windows(WindowArrays.concat([w, copies]), s.plan)
    assert s2.summary["duplicates"]["test"]["also_in_train"] == (
        s.summary["duplicates"]["test"]["also_in_train"] + 2
    )
    keys = content_keys(WindowArrays.concat([s.train.take([0]), s.train.take([0])]))
    assert keys[0] == keys[1]


def test_positive_counts_per_side_add_up():
    w = _windows(seed=2)
    s = split_windows(w)
    sides = s.summary["sides"]
    for name in ("train", "validation", "test"):
        lab = s.side(name).labels
        assert sides[name]["positive_windows"] == int(lab.sum())
        assert sum(sides[name]["positive_windows_by_type"].values()) == int(lab.sum())


def test_invalid_plans_are_refused():
    with pytest.raises(ValueError, match="two dates"):
        SplitPlan.from_dates(DAYS[:1])
    with pytest.raises(ValueError, match="user fractions"):
        SplitPlan.from_dates(DAYS, validation_user_fraction=0.6, test_user_fraction=0.5)
    with pytest.raises(ValueError, match="precede"):
        SplitPlan((DAYS[3],), (DAYS[1],))
    no_meta = WindowArrays.from_columns({"mask": [[1]]}, window_length=1)
    with pytest.raises(ValueError, match="user_id and date"):
        SplitPlan.from_dates(DAYS).sides(no_meta)


@settings(max_examples=25, deadline=None)
@given(
    n_days=st.integers(2, 8),
    frac=st.floats(0.1, 0.9),
    val=st.floats(0.0, 0.4),
    test=st.floats(0.05, 0.5),
    seed=st.integers(0, 10),
)
def test_split_invariants_hold_for_any_plan(n_days, frac, val, test, seed):
    days = DAYS[:1] + [DAYS[0] + dt.timedelta(days=i) for i in range(1, n_days)]
    plan = SplitPlan.from_dates(days, frac, val, test, seed)
    assert 1 <= len(plan.train_dates) < n_days
    rng = np.random.default_rng(seed)
    n = 120
    w = make_windows(
        n,
        users=[f"u{k}" for k in rng.integers(0, 30, n)],
        dates=[days[k] for k in rng.integers(0, n_days, n)],
        length=8,
    )
    sides = plan.sides(w)
    by_user: dict[str, set[str]] = {}
    for u, side, d in zip(w.meta["user_id"], sides, w.meta["date"], strict=True):
        if side:
            by_user.setdefault(u, set()).add(side)
            assert (d in plan.train_dates) == (side == "train")
    assert all(len(v) == 1 for v in by_user.values())
