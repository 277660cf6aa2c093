"""Baselines on numpy-built windows: every one ranks an obvious click bot above normal shoppers."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from ubsd.detectors.aggregates import EVENT_TYPE_ID, aggregate_features, aggregate_matrix
from ubsd.detectors.base import Detector
from ubsd.detectors.deeplog import DeepLogDetector
from ubsd.detectors.gbt import GBTDetector
from ubsd.detectors.isolation_forest import IsolationForestDetector
from ubsd.detectors.rules import RulesDetector, rule_statistics
from ubsd.io.window_arrays import WindowArrays

L = 32
_NORMAL_TYPES = [EVENT_TYPE_ID[t] for t in ("search", "impression", "view", "click")]
_NORMAL_P = [0.15, 0.45, 0.3, 0.1]


def _dt_bucket(seconds: np.ndarray) -> np.ndarray:
    return np.minimum(np.floor(2 * np.log2(1 + seconds)), 29).astype(np.int32) + 2


def make_windows(
    n_normal: int,
    n_bot: int = 0,
    seed: int = 0,
    users: list[str] | None = None,
    dates: list[dt.date] | None = None,
    length: int = L,
) -> WindowArrays:
    """Normal shoppers (mixed event types, log-normal gaps of ~20 s, varied items) and click
    bots (ad_clicks on two sponsored items every 1.5 s, machine-regular), bots last.

    ``users`` / ``dates`` (one per window) default to one user per window on 2026-11-01.
    """
    rng = np.random.default_rng(seed)
    n = n_normal + n_bot
    shape = (n, length)
    et = np.zeros(shape, np.int32)
    mask = np.zeros(shape, np.int32)
    gaps = np.zeros(shape, np.float64)
    items = np.zeros(shape, np.int32)
    cats = np.zeros(shape, np.int32)
    sponsored = np.zeros(shape, np.int32)
    pos = np.zeros(shape, np.int32)
    price = np.zeros(shape, np.int32)
    for i in range(n):
        bot = i >= n_normal
        k = length if bot else int(rng.integers(6, length + 1))
        mask[i, :k] = 1
        if bot:
            et[i, :k] = np.where(rng.random(k) < 0.9, EVENT_TYPE_ID["ad_click"], 4)
            gaps[i, :k] = 1.5 * rng.normal(1.0, 0.03, k)
            items[i, :k] = rng.choice([7, 8], k)
            cats[i, :k] = 5
            sponsored[i, :k] = 3
            pos[i, :k] = rng.integers(2, 4, k)
        else:
            et[i, :k] = rng.choice(_NORMAL_TYPES, k, p=_NORMAL_P)
            gaps[i, :k] = rng.lognormal(np.log(20.0), 1.0, k)
            items[i, :k] = rng.integers(2, 1024, k)
            cats[i, :k] = rng.choice(rng.integers(2, 128, 3), k)
            sponsored[i, :k] = np.where(rng.random(k) < 0.1, 3, 2)
            pos[i, :k] = rng.integers(2, 23, k)
        price[i, :k] = rng.integers(4, 20, k)
        gaps[i, 0] = 0.0
    dtb = np.where(mask == 1, _dt_bucket(gaps), 0)
    dtb[:, 0] = np.where(mask[:, 0] == 1, 1, 0)
    hours = np.where(mask == 1, rng.integers(9, 23, (n, 1)) + 1, 0)
    ones = mask.copy()
    labels = np.r_[np.zeros(n_normal, int), np.ones(n_bot, int)]
    return WindowArrays.from_columns(
        {
            "event_type_ids": et,
            "dt_buckets": dtb,
            "item_buckets": items,
            "category_buckets": cats,
            "position_buckets": pos,
            "sponsored_flags": sponsored,
            "price_buckets": price,
            "hours": hours,
            "device_change_flags": ones,
            "ip_change_flags": ones,
            "mask": mask,
            "dt_seconds": gaps,
            "window_id": [f"w{i}" for i in range(n)],
            "user_id": users or [f"u{i}" for i in range(n)],
            "session_id": [f"s{i}" for i in range(n)],
            "date": dates or [dt.date(2026, 11, 1)] * n,
            "label": labels.tolist(),
            "fraud_type": [None] * n_normal + ["click_bot"] * n_bot,
        },
        window_length=length,
    )


@pytest.fixture(scope="module")
def data():
    train = make_windows(300, 12, seed=1)
    test = make_windows(200, 1, seed=2)
    return train, test


def test_aggregates_are_finite_and_separate_a_bot(data):
    _, test = data
    x, names = aggregate_matrix(test)
    assert x.shape == (test.n, len(names)) and np.isfinite(x).all()
    f = aggregate_features(test)
    bot, normal = test.n - 1, slice(0, test.n - 1)
    assert f["length"][bot] == L and f["share_ad_click"][bot] > 0.7
    assert f["events_per_s"][bot] > 5 * f["events_per_s"][normal].max()
    assert f["dt_cv"][bot] < f["dt_cv"][normal].min()
    assert f["item_max_repeat"][bot] >= 10 > f["item_max_repeat"][normal].max()
    assert f["share_sponsored"][bot] == 1.0


def test_aggregates_ignore_padding():
    w = make_windows(5, seed=3)
    padded = WindowArrays(
        features={
            k: np.pad(v, ((0, 0), (0, 8))) for k, v in w.features.items()
        },  # 8 more padding events
        dt_seconds=np.pad(w.dt_seconds, ((0, 0), (0, 8))),
        meta=w.meta,
    )
    a, b = aggregate_features(w), aggregate_features(padded)
    for k in a:
        np.testing.assert_allclose(a[k], b[k], err_msg=k)


def _bot_outranks_normals(det: Detector, train: WindowArrays, test: WindowArrays) -> np.ndarray:
    det.fit(train, train.labels)
    s = det.score(test)
    assert s.shape == (test.n,) and np.isfinite(s).all()
    assert np.std(s[:-1]) > 0, "scores must not be constant"
    assert s[-1] > s[:-1].max(), f"{det.name}: bot {s[-1]:.4f} vs normal max {s[:-1].max():.4f}"
    return s


def test_rules_thresholds_come_from_unlabeled_quantiles(data):
    train, test = data
    det = RulesDetector(quantile=0.99)
    s = _bot_outranks_normals(det, train, test)
    stats = rule_statistics(train)
    assert det.thresholds_["rate"] == pytest.approx(np.quantile(stats["rate"], 0.99))
    assert s[-1] >= 1.0  # a rule fires on the bot
    # Labels do not change the fit.
    other = RulesDetector(quantile=0.99).fit(train, np.zeros(train.n, int))
    assert other.thresholds_ == det.thresholds_


def test_isolation_forest_ranks_the_bot_first(data):
    train, test = data
    _bot_outranks_normals(IsolationForestDetector(n_estimators=100, seed=0), train, test)


def test_gbt_ranks_the_bot_first_and_needs_labels(data):
    train, test = data
    val = make_windows(100, 4, seed=4)
    det = GBTDetector(max_iter=60)
    det.fit(train, train.labels, validation=(val, val.labels))
    s = det.score(test)
    assert s[-1] > s[:-1].max() and s.min() >= 0 and s.max() <= 1
    with pytest.raises(ValueError, match="needs labels"):
        GBTDetector().fit(train)


def test_deeplog_ranks_the_bot_first(data):
    train, test = data
    normal_train = train.take(np.flatnonzero(train.labels == 0))
    det = DeepLogDetector(max_epochs=3, hidden=32, seed=0)
    det.fit(normal_train, validation=(test, test.labels))
    assert det.history_ and "val_nll" in det.history_[0]
    for kind in ("nll", "topg"):
        det.score_kind = kind
        s = det.score(test)
        assert s[-1] > s[:-1].max(), f"{kind}: bot {s[-1]:.3f} vs normal max {s[:-1].max():.3f}"


def test_calibrate_and_predict_follow_the_contract(data):
    train, test = data
    det = RulesDetector().fit(train)
    det.calibrate(test, test.labels, target_precision=1.0)
    pred = det.predict(test)
    assert pred[-1] and not pred[:-1].any()
    assert det.describe()["threshold"] == det.threshold_
