"""Session assignment with window functions.

A user's events, ordered by (ts, event_id), break into sessions on an inactivity gap; a gap
session is then cut into chunks of at most ``max_session_minutes`` (measured from its start) and
``max_session_events``. A session's id is derived from its user, start time and first event, so
the run of the next date, looking back across midnight, derives the same id.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from ubsd.config import SessionizeSettings
from ubsd.sessionize.features import event_features

_ORDER = ("ts", "event_id")


def _micros(c: str) -> F.Column:
    return F.unix_micros(F.col(c))


def assign_sessions(events: DataFrame, cfg: SessionizeSettings) -> DataFrame:
    """Add session_id, pos (0-based position in session), dt_seconds and the feature columns.

    All windows below are partitioned by user_id first, so Spark shuffles once; the sort and
    window buffers spill to disk, which keeps a user with millions of events within memory.
    """
    by_user = Window.partitionBy("user_id").orderBy(*_ORDER)
    before = by_user.rowsBetween(Window.unboundedPreceding, -1)
    gap_us = int(cfg.gap_minutes * 60 * 1_000_000)
    chunk_us = int(cfg.max_session_minutes * 60 * 1_000_000)

    df = (
        events.withColumn("_prev_us", F.lag(_micros("ts")).over(by_user))
        .withColumn("_prev_device", F.last("device_hash", ignorenulls=True).over(before))
        .withColumn("_prev_ip", F.last("ip_hash", ignorenulls=True).over(before))
        .withColumn(
            "_gap_break",
            (F.col("_prev_us").isNull() | ((_micros("ts") - F.col("_prev_us")) > gap_us)).cast(
                "int"
            ),
        )
        .withColumn("_gap_no", F.sum("_gap_break").over(by_user))
    )
    by_gap = Window.partitionBy("user_id", "_gap_no").orderBy(*_ORDER)
    df = df.withColumn("_gap_start_us", F.first(_micros("ts")).over(by_gap)).withColumn(
        "_dur_chunk", F.floor((_micros("ts") - F.col("_gap_start_us")) / chunk_us)
    )
    by_dur = Window.partitionBy("user_id", "_gap_no", "_dur_chunk").orderBy(*_ORDER)
    df = df.withColumn(
        "_cnt_chunk",
        F.floor((F.row_number().over(by_dur) - 1) / F.lit(cfg.max_session_events)),
    )
    by_session = Window.partitionBy("user_id", "_gap_no", "_dur_chunk", "_cnt_chunk").orderBy(
        *_ORDER
    )
    df = (
        df.withColumn("pos", (F.row_number().over(by_session) - 1).cast("int"))
        .withColumn("_session_start", F.first("ts").over(by_session))
        .withColumn("_first_event", F.first("event_id").over(by_session))
        .withColumn(
            "session_id",
            F.substring(
                F.sha2(
                    F.concat_ws(
                        "|",
                        F.col("user_id"),
                        F.unix_micros(F.col("_session_start")).cast("string"),
                        F.col("_first_event"),
                    ),
                    256,
                ),
                1,
                24,
            ),
        )
        .withColumn(
            "dt_seconds",
            F.when(F.col("pos") == 0, F.lit(0.0)).otherwise(
                (_micros("ts") - F.col("_prev_us")) / 1e6
            ),
        )
    )
    feats = event_features(
        cfg,
        dt_seconds=F.col("dt_seconds"),
        session_start=F.col("pos") == 0,
        prev_device=F.col("_prev_device"),
        prev_ip=F.col("_prev_ip"),
    )
    for name, expr in feats.items():
        df = df.withColumn(name, expr)
    return df.drop(*[c for c in df.columns if c.startswith("_")])
