"""The sessionize run: the run's events (plus a bounded look-back) in, windows out.

Windows are stored under the UTC date of their first event; a run writes only windows whose
first event falls on its dates, so the run for D never rewrites D-1 (see docs/data-contract.md).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ubsd.config import Settings
from ubsd.io.paths import resolve_under
from ubsd.io.schemas import EVENTS_SCHEMA, LABELS_SCHEMA, WINDOWS_SCHEMA
from ubsd.io.tables import read_table, write_dates
from ubsd.runs import RunContext
from ubsd.sessionize.sessions import assign_sessions
from ubsd.sessionize.spec import feature_spec
from ubsd.sessionize.windows import build_windows

log = logging.getLogger("ubsd.sessionize")


def read_run_events(spark: SparkSession, settings: Settings, dates: list[dt.date]) -> DataFrame:
    """The run's events plus the look-back slice of the dates before them."""
    cfg = settings.sessionize
    back_days = math.ceil(cfg.lookback_hours / 24)
    first = min(dates)
    all_dates = [first - dt.timedelta(days=i) for i in range(back_days, 0, -1)] + list(dates)
    path = resolve_under(settings.storage.root, settings.storage.events_table)
    events = read_table(spark, path, settings.storage.format, EVENTS_SCHEMA, all_dates)
    since = dt.datetime.combine(first, dt.time()) - dt.timedelta(hours=cfg.lookback_hours)
    return events.where(F.col("ts") >= F.lit(since))


def attach_labels(spark: SparkSession, settings: Settings, events: DataFrame) -> DataFrame:
    """Join per-event ground truth (kept out of every feature column)."""
    path = resolve_under(settings.storage.root, settings.storage.labels_path or "")
    labels = (
        spark.read.schema(LABELS_SCHEMA)
        .parquet(path)
        .select("event_id", F.col("is_fraud"), F.col("fraud_type"))
        .dropDuplicates(["event_id"])
    )
    return events.join(labels, "event_id", "left")


def sessionize(spark: SparkSession, settings: Settings, dates: list[dt.date]) -> DataFrame:
    """Windows for ``dates`` as a lazy DataFrame in WINDOWS_SCHEMA order (minus run metadata)."""
    cfg = settings.sessionize
    events = read_run_events(spark, settings, dates)
    with_labels = settings.storage.labels_path is not None
    if with_labels:
        events = attach_labels(spark, settings, events)
    sessioned = assign_sessions(events, cfg)
    windows = build_windows(sessioned, cfg.window_length, cfg.window_stride, with_labels)
    spec = feature_spec(cfg)
    return windows.where(F.col("date").isin(*dates)).withColumn(
        "feature_version", F.lit(spec.version)
    )


def run_sessionize(spark: SparkSession, settings: Settings, ctx: RunContext) -> dict[str, Any]:
    """Sessionize the run's dates, write the windows table, return the run summary."""
    root, fmt = settings.storage.root, settings.storage.format
    out_path = resolve_under(root, settings.storage.windows_table)
    windows = sessionize(spark, settings, ctx.dates).select(
        "*",
        F.lit(ctx.run_id).alias("run_id"),
        F.lit(ctx.processed_at).cast("timestamp").alias("processed_at"),
    )
    write_dates(windows, out_path, ctx.dates, fmt, WINDOWS_SCHEMA)

    written = read_table(spark, out_path, fmt, WINDOWS_SCHEMA, ctx.dates)
    stats = written.agg(
        F.count("*").alias("windows"),
        F.countDistinct("session_id").alias("sessions"),
        F.countDistinct("user_id").alias("users"),
        F.sum("n_events").alias("event_slots"),
        F.max("n_events").alias("max_events_in_window"),
        F.sum(F.coalesce(F.col("label"), F.lit(0))).alias("positive_windows"),
    ).first()
    per_date = {
        r["date"].isoformat(): r["count"] for r in written.groupBy("date").count().collect()
    }
    spec = feature_spec(settings.sessionize)
    summary = {
        "status": "ok",
        "tables": {"windows": out_path},
        "windows": stats["windows"],
        "sessions_starting_in_run": stats["sessions"],
        "users": stats["users"],
        "max_events_in_window": stats["max_events_in_window"],
        "positive_windows": stats["positive_windows"] if settings.storage.labels_path else None,
        "windows_per_date": dict(sorted(per_date.items())),
        "feature_version": spec.version,
        "window_length": spec.window_length,
        "window_stride": spec.window_stride,
    }
    log.info("sessionize %s: %d windows", ctx.label, stats["windows"])
    return summary
