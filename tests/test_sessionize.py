"""Sessionize: session breaks, windows (stride, padding, mask), midnight, determinism, skew."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import make_settings, write_events

from ubsd.io.schemas import RUN_METADATA_COLUMNS, WINDOW_FEATURE_ARRAYS, WINDOWS_SCHEMA
from ubsd.io.tables import read_table
from ubsd.runs import RunContext, run_dates
from ubsd.sessionize import run_sessionize

T0 = dt.datetime(2026, 11, 1, 10, 0, 0)
D = "2026-11-01"


def _ev(i: int, user: str, ts: dt.datetime, **kw) -> dict:
    return {"event_id": f"{user}-{i:06d}", "user_id": user, "ts": ts, **kw}


def _sessionize(spark, settings, date: str = D):
    summary = run_sessionize(spark, settings, RunContext("sessionize", run_dates(date)))
    windows = read_table(
        spark, f"{settings.storage.root}/tables/windows", settings.storage.format, WINDOWS_SCHEMA
    )
    return summary, windows


def _rows(windows, date: str | None = None):
    df = windows if date is None else windows.where(f"date = '{date}'")
    return sorted(df.collect(), key=lambda r: (r["user_id"], r["start_ts"], r["window_index"]))


def test_session_breaks_exactly_after_the_gap(spark, tmp_path):
    settings = make_settings(tmp_path)
    gap = dt.timedelta(minutes=30)
    times = [T0, T0 + gap, T0 + 2 * gap + dt.timedelta(seconds=1)]
    write_events(spark, settings, [_ev(i, "u1", t) for i, t in enumerate(times)])
    _, windows = _sessionize(spark, settings)
    sizes = sorted(r["n_events"] for r in windows.collect())
    assert sizes == [1, 2]  # a gap of exactly 30 min stays; 30 min + 1 s breaks


def test_max_session_events_and_minutes_cut_sessions(spark, tmp_path):
    settings = make_settings(tmp_path, "sessionize.max_session_events=2")
    write_events(spark, settings, [_ev(i, "u1", T0 + dt.timedelta(seconds=i)) for i in range(5)])
    _, windows = _sessionize(spark, settings)
    assert sorted(r["n_events"] for r in windows.collect()) == [1, 2, 2]

    settings = make_settings(tmp_path / "b", "sessionize.max_session_minutes=30")
    times = [T0 + dt.timedelta(minutes=10 * i) for i in range(11)]  # 0..100 min
    write_events(spark, settings, [_ev(i, "u1", t) for i, t in enumerate(times)])
    _, windows = _sessionize(spark, settings)
    assert sorted(r["n_events"] for r in windows.collect()) == [2, 3, 3, 3]


def test_window_stride_padding_and_mask(spark, tmp_path):
    settings = make_settings(tmp_path)  # L=64, S=32
    write_events(spark, settings, [_ev(i, "u1", T0 + dt.timedelta(seconds=i)) for i in range(100)])
    summary, windows = _sessionize(spark, settings)
    rows = _rows(windows)
    assert [r["window_index"] for r in rows] == [0, 1, 2]
    assert [r["n_events"] for r in rows] == [64, 64, 36]
    assert rows[1]["event_ids"][0] == "u1-000032" and rows[2]["event_ids"][0] == "u1-000064"
    last = rows[2]
    assert last["mask"] == [1] * 36 + [0] * 28
    assert last["event_ids"][36:] == [None] * 28
    for name in WINDOW_FEATURE_ARRAYS:
        assert len(last[name]) == 64 and last[name][36:] == [0] * 28
        assert all(v > 0 for v in last[name][:36])
    assert last["start_ts"] == T0 + dt.timedelta(seconds=64)
    assert last["end_ts"] == T0 + dt.timedelta(seconds=99)
    assert summary["windows"] == 3 and summary["max_events_in_window"] == 64


@pytest.mark.parametrize(("n", "expected"), [(64, [64]), (65, [64, 33]), (1, [1])])
def test_sessions_of_window_length_and_around(spark, tmp_path, n, expected):
    settings = make_settings(tmp_path)
    write_events(spark, settings, [_ev(i, "u1", T0 + dt.timedelta(seconds=i)) for i in range(n)])
    _, windows = _sessionize(spark, settings)
    assert [r["n_events"] for r in _rows(windows)] == expected


def test_session_across_midnight_keeps_its_id_and_each_run_owns_its_date(spark, tmp_path):
    settings = make_settings(tmp_path, "sessionize.window_length=4", "sessionize.window_stride=2")
    d0 = dt.datetime(2026, 10, 31, 23, 50)
    times = [d0 + dt.timedelta(minutes=5 * i) for i in range(2)] + [
        dt.datetime(2026, 11, 1, 0, 5) + dt.timedelta(minutes=5 * i) for i in range(4)
    ]
    write_events(spark, settings, [_ev(i, "u1", t) for i, t in enumerate(times)])
    _, windows = _sessionize(spark, settings, "2026-10-31")
    (w_prev,) = _rows(windows, "2026-10-31")
    assert w_prev["n_events"] == 2  # what D-1's run knew at the time
    _, windows = _sessionize(spark, settings, D)
    (w_prev_after,) = _rows(windows, "2026-10-31")
    assert w_prev_after["n_events"] == 2 and w_prev_after["run_id"] == w_prev["run_id"]
    (w_next,) = _rows(windows, D)
    assert w_next["session_id"] == w_prev["session_id"]
    assert (w_next["window_index"], w_next["n_events"]) == (1, 4)
    assert w_next["event_ids"] == [f"u1-{i:06d}" for i in range(2, 6)]
    # The first event after midnight is not a session start: its gap is 10 minutes.
    assert w_next["dt_seconds"][0] == 600.0 and w_next["dt_buckets"][0] > 1


def test_window_ids_are_deterministic_and_rerun_replaces(spark, tmp_path):
    settings = make_settings(tmp_path)
    rows = [_ev(i, f"u{i % 3}", T0 + dt.timedelta(seconds=7 * i)) for i in range(300)]
    write_events(spark, settings, rows)
    _, w1 = _sessionize(spark, settings)
    cols = [c for c in WINDOWS_SCHEMA.fieldNames() if c not in RUN_METADATA_COLUMNS]
    first = sorted(tuple(map(str, r)) for r in w1.select(*cols).collect())
    _, w2 = _sessionize(spark, settings)
    second = sorted(tuple(map(str, r)) for r in w2.select(*cols).collect())
    assert first == second and len(first) == w2.count()
    assert w2.select("window_id").distinct().count() == len(first)


def test_skewed_user_is_windowed_without_whole_session_arrays(spark, tmp_path):
    settings = make_settings(tmp_path, "sessionize.max_session_events=5000")
    n = 20_000
    start = dt.datetime(2026, 11, 1, 1, 0)
    bot = [_ev(i, "bot", start + dt.timedelta(milliseconds=500 * i)) for i in range(n)]
    normal = [_ev(i, f"u{i}", T0 + dt.timedelta(minutes=i)) for i in range(50)]
    write_events(spark, settings, bot + normal)
    summary, windows = _sessionize(spark, settings)
    bot_w = windows.where("user_id = 'bot'")
    assert bot_w.select("session_id").distinct().count() == 4  # 20k events / 5k per session
    assert bot_w.agg({"n_events": "max"}).first()[0] == 64
    covered = bot_w.selectExpr("explode(filter(event_ids, x -> x is not null)) AS e").distinct()
    assert covered.count() == n
    # 5000-event sessions: windows at 0, 32, ..., 4928 and 4960 (the tail) -> 156 per session
    assert bot_w.count() == 4 * 156
    assert summary["windows"] == 4 * 156 + 50


def test_features_and_labels_never_mix(spark, tmp_path):
    labels_dir = tmp_path / "lab" / "labels"
    labels_dir.mkdir(parents=True)
    evs = [
        _ev(0, "u1", T0, event_type="search", device_hash="d1", ip_hash="i1"),
        _ev(
            1,
            "u1",
            T0 + dt.timedelta(seconds=5),
            event_type="teleport",
            device_hash="d1",
            ip_hash="i1",
            is_sponsored=True,
            position=3,
            price=10.0,
            item_id="i9",
        ),
        _ev(
            2,
            "u1",
            T0 + dt.timedelta(seconds=9),
            event_type="purchase",
            device_hash="d2",
            ip_hash="i1",
            is_sponsored=False,
            price=5000.0,
        ),
    ]
    pq.write_table(
        pa.table(
            {
                "event_id": [e["event_id"] for e in evs],
                "user_id": ["u1"] * 3,
                "is_fraud": [False, False, True],
                "fraud_type": [None, None, "account_takeover"],
                "date": [T0.date()] * 3,
            }
        ),
        labels_dir / "part-0.parquet",
    )
    plain = make_settings(tmp_path / "plain")
    labelled = make_settings(tmp_path / "lab", "storage.labels_path=labels")
    results = []
    for settings in (plain, labelled):
        write_events(spark, settings, evs)
        _, windows = _sessionize(spark, settings)
        (w,) = windows.collect()
        results.append(w)
    p, lab = results
    assert p["label"] is None and p["fraud_type"] is None
    assert lab["label"] == 1 and lab["fraud_type"] == "account_takeover"
    for name in WINDOW_FEATURE_ARRAYS:
        assert p[name] == lab[name]
    assert p["event_type_ids"][:3] == [2, 1, 9]  # search, unknown, purchase
    assert p["sponsored_flags"][:3] == [1, 3, 2]
    assert p["device_change_flags"][:3] == [1, 1, 2]
    assert p["ip_change_flags"][:3] == [1, 1, 1]
    assert p["hours"][:3] == [11, 11, 11]
    assert p["dt_buckets"][0] == 1 and p["dt_seconds"][:3] == [0.0, 5.0, 4.0]
    assert p["price_buckets"][2] > p["price_buckets"][1] > 1
