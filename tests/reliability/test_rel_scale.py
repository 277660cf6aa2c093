"""Scale and skew through ingest, sessionize and scoring with the tiny model (as jobs, driver memory
capped at 2 GiB): one user with N events in a day, N users with one event each, sessions of
exactly the window length.

The model is an untrained tiny one registered as champion: what it learned does not matter here,
only that every window is scored once, the labels reconcile with the windows, and the daily
rollup has one row per user.

Full size (``slow``): N = 1,000,000 (``UBSD_RELIABILITY_SCALE``). CI runs the same shapes with
``UBSD_RELIABILITY_SCALE_CI`` (default 10,000) in the test session's Spark.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
from reliability_kit import (
    latest_summary,
    register_untrained,
    run_in_process,
    run_job,
    settings_for,
    table_path,
    write_conf,
)
from window_factory import make_windows

L, S, MAX_EVENTS = 64, 32, 10_000  # window length and stride, max_session_events (defaults)
MAX_MINUTES, BOT_STEP_MS = 240, 50  # max_session_minutes (default); the bot's event interval
NAME = "ubsd-reliability-scale"
MODEL = ("model.size=tiny", f"mlflow.registered_model={NAME}")
MODEL_YAML = f"model:\n  size: tiny\nmlflow:\n  registered_model: {NAME}\n"
DAYS = {"heavy_user": "2026-11-01", "singletons": "2026-11-02", "exact_window": "2026-11-03"}


def _ts(date: str, millis: int) -> str:
    s, ms = divmod(millis, 1000)
    return f"{date}T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}.{ms:03d}Z"


def _windows_for(n: int) -> int:
    """Windows of one session of ``n`` events (window k >= 1 only if it covers a new event)."""
    return 1 + max(0, math.ceil((n - L) / S))


def _heavy_session_sizes(n: int) -> list[int]:
    """The bot's sessions: chunks of MAX_MINUTES (from the first event), each cut every
    MAX_EVENTS events. At 1,000,000 events (13.9 h) that is 4 chunks and 101 sessions."""
    per_chunk = MAX_MINUTES * 60 * 1000 // BOT_STEP_MS
    sizes = []
    for start in range(0, n, per_chunk):
        m = min(per_chunk, n - start)
        sizes += [MAX_EVENTS] * (m // MAX_EVENTS) + ([m % MAX_EVENTS] if m % MAX_EVENTS else [])
    return sizes


def write_shape(root: Path, shape: str, n: int) -> dict[str, int]:
    """Write one shape's input for its date; return the windows and sessions expected."""
    date = DAYS[shape]
    folder = root / "raw" / f"date={date}"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "part-0.jsonl").open("w") as fh:
        if shape == "heavy_user":  # one bot, an event every 50 ms, never an inactivity gap
            for i in range(n):
                fh.write(
                    f'{{"event_id":"h{i:07d}","user_id":"bot","ts":"{_ts(date, BOT_STEP_MS * i)}",'
                    f'"event_type":"click","item_id":"i{i % 977}"}}\n'
                )
            sizes = _heavy_session_sizes(n)
            return {"events": n, "sessions": len(sizes), "windows": sum(map(_windows_for, sizes))}
        if shape == "singletons":
            for i in range(n):
                ms = (i * 86_399_000) // n
                fh.write(
                    f'{{"event_id":"s{i:07d}","user_id":"single{i:07d}",'
                    f'"ts":"{_ts(date, ms)}","event_type":"view"}}\n'
                )
            return {"events": n, "sessions": n, "windows": n}
        users = n // L  # each user: one session of exactly L events, a second apart
        for u in range(users):
            base = (u * 1000) % 80_000_000
            for j in range(L):
                fh.write(
                    f'{{"event_id":"x{u:06d}-{j:02d}","user_id":"exact{u:06d}",'
                    f'"ts":"{_ts(date, base + 1000 * j)}","event_type":"view"}}\n'
                )
        return {"events": users * L, "sessions": users, "windows": users}


def _check_windows(spark, root: Path, date: str, expected: dict[str, int]) -> dict:
    from pyspark.sql import functions as F

    w = spark.read.format("delta").load(str(root / "tables" / "windows")).where(f"date='{date}'")
    got = w.agg(
        F.count("*").alias("windows"),
        F.countDistinct("session_id").alias("sessions"),
        F.max("n_events").alias("max_n"),
        F.sum("n_events").alias("slots"),
    ).first()
    covered = w.select(F.explode("event_ids").alias("e")).where("e IS NOT NULL").distinct().count()
    assert got["windows"] == expected["windows"], (got, expected)
    assert got["sessions"] == expected["sessions"], (got, expected)
    assert got["max_n"] <= L and covered == expected["events"]
    return {"windows": got["windows"], "sessions": got["sessions"], "events_covered": covered}


def register_tiny_champion(settings) -> str:
    """An untrained tiny model (vocabulary from generated windows) as champion; its version."""
    from ubsd.sessionize.spec import feature_spec

    windows = make_windows(feature_spec(settings.sessionize), 40, 8, seed=5)
    return register_untrained(settings, windows, champion=True)


def _check_labels(spark, settings, date: str, windows: dict, expected_users: int) -> dict:
    """Every window scored exactly once; one rollup row per user."""
    from pyspark.sql import functions as F

    lab = spark.read.format("delta").load(table_path(settings, "fraud_labels"))
    lab = lab.where(f"date='{date}'")
    got = lab.agg(
        F.count("*").alias("rows"),
        F.countDistinct("window_id").alias("ids"),
        F.sum(F.col("fraud_probability").isNull().cast("int")).alias("null_probs"),
        F.sum(F.col("is_fraud").cast("int")).alias("flagged"),
    ).first()
    assert got["rows"] == got["ids"] == windows["windows"], (got, windows)
    assert got["null_probs"] == 0
    daily = spark.read.format("delta").load(table_path(settings, "user_daily"))
    users = daily.where(f"date='{date}'").count()
    assert users == expected_users, (users, expected_users)
    return {"labels": got["rows"], "flagged": got["flagged"], "rollup_users": users}


def _users(shape: str, n: int) -> int:
    return {"heavy_user": 1, "singletons": n, "exact_window": n // L}[shape]


def _case(record, shape, n, ingest, windows, how, labels=None):
    record(
        f"{shape}_{n}",
        "scale",
        rows_read=ingest["rows_read"],
        accepted=ingest["accepted"],
        quarantined=ingest["quarantined"],
        duplicate=ingest["duplicate"],
        filtered=ingest.get("filtered", 0),
        outcome=f"{how}: {windows['windows']} windows, {windows['sessions']} sessions, every event "
        f"in a window" + (", every window scored once, one rollup row per user" if labels else ""),
        windows_check=windows,
        labels_check=labels,
    )


@pytest.mark.slow
@pytest.mark.parametrize("shape", list(DAYS))
def test_scale_as_jobs_with_2g_driver(spark, tmp_path, shape, record):
    n = int(os.environ.get("UBSD_RELIABILITY_SCALE", "1000000"))
    expected = write_shape(tmp_path, shape, n)
    conf = write_conf(tmp_path, extra=MODEL_YAML)
    date = DAYS[shape]
    settings = settings_for(tmp_path, *MODEL)
    register_tiny_champion(settings)
    for job in ("ingest", "sessionize", "score"):
        proc = run_job(job, conf, "--date", date, "--set", "spark.driver_memory=2g", timeout=3600)
        assert proc.returncode == 0, proc.stderr[-3000:]
    ingest = latest_summary(tmp_path, "ingest", date)
    assert ingest["accepted"] == expected["events"] and ingest["reconciled"]
    windows = _check_windows(spark, tmp_path, date, expected)
    score = latest_summary(tmp_path, "score", date)
    assert score["reconciled"] and score["rows_in"] == windows["windows"], score
    labels = _check_labels(spark, settings, date, windows, _users(shape, n))
    sess = latest_summary(tmp_path, "sessionize", date)
    how = (
        f"jobs, driver 2g, ingest {ingest['duration_s']} s, sessionize {sess['duration_s']} s, "
        f"score (tiny) {score['duration_s']} s for {labels['labels']} windows"
    )
    _case(record, shape, n, ingest, windows, how, labels)


def test_scale_shapes_small(spark, tmp_path, record):
    n = int(os.environ.get("UBSD_RELIABILITY_SCALE_CI", "10000"))
    expected = {shape: write_shape(tmp_path, shape, n) for shape in DAYS}
    settings = settings_for(tmp_path, *MODEL)
    dates = sorted(DAYS.values())
    ingest = run_in_process(spark, "ingest", settings, start=dates[0], end=dates[-1])
    assert ingest["reconciled"] and ingest["quarantined"] == 0
    run_in_process(spark, "sessionize", settings, start=dates[0], end=dates[-1])
    register_tiny_champion(settings)
    score = run_in_process(spark, "score", settings, start=dates[0], end=dates[-1])
    assert score["reconciled"], score
    for shape, date in DAYS.items():
        windows = _check_windows(spark, tmp_path, date, expected[shape])
        labels = _check_labels(spark, settings, date, windows, _users(shape, n))
        per = {
            "rows_read": expected[shape]["events"],
            "accepted": ingest["accepted_per_date"][date],
            "quarantined": 0,
            "duplicate": 0,
        }
        assert per["accepted"] == expected[shape]["events"]
        _case(record, shape, n, per, windows, "in-process, CI size", labels)
