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

    Every window function below uses the same spec (partition by user, order by ts, event_id),
    so Spark shuffles and sorts once; sort and window buffers spill to disk, which keeps a user
    with millions of events within memory. Chunk starts are carried forward with running
    ``max(when(start, value))``, which is exact because ts and row numbers never decrease.
    """
    by_user = Window.partitionBy("user_id").orderBy(*_ORDER)
    before = by_user.rowsBetween(Window.unboundedPreceding, -1)
    running = by_user.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    gap_us = int(cfg.gap_minutes * 60 * 1_000_000)
    chunk_us = int(cfg.max_session_minutes * 60 * 1_000_000)

    def carried(start: str, value: F.Column) -> F.Column:
        return F.max(F.when(F.col(start), value)).over(running)

    df = (
        events.withColumn("_us", _micros("ts"))
        .withColumn("_rn", F.row_number().over(by_user))
        .withColumn("_prev_us", F.lag("_us").over(by_user))
        .withColumn("_prev_device", F.last("device_hash", ignorenulls=True).over(before))
        .withColumn("_prev_ip", F.last("ip_hash", ignorenulls=True).over(before))
        .withColumn(
            "_gap_break",
            F.col("_prev_us").isNull() | ((F.col("_us") - F.col("_prev_us")) > gap_us),
        )
        .withColumn("_gap_start_us", carried("_gap_break", F.col("_us")))
        .withColumn("_dur_chunk", F.floor((F.col("_us") - F.col("_gap_start_us")) / chunk_us))
        .withColumn(
            "_dur_break",
            F.col("_gap_break") | (F.col("_dur_chunk") != F.lag("_dur_chunk").over(by_user)),
        )
        .withColumn("_dur_start_rn", carried("_dur_break", F.col("_rn")))
        .withColumn(
            "_cnt_chunk",
            F.floor((F.col("_rn") - F.col("_dur_start_rn")) / F.lit(cfg.max_session_events)),
        )
        .withColumn(
            "_break",
            F.col("_dur_break") | (F.col("_cnt_chunk") != F.lag("_cnt_chunk").over(by_user)),
        )
        .withColumn("_start_rn", carried("_break", F.col("_rn")))
        .withColumn("_session_start_us", carried("_break", F.col("_us")))
        .withColumn(
            "_first_event",
            F.last(F.when(F.col("_break"), F.col("event_id")), ignorenulls=True).over(running),
        )
        .withColumn("pos", (F.col("_rn") - F.col("_start_rn")).cast("int"))
        .withColumn(
            "session_id",
            F.substring(
                F.sha2(
                    F.concat_ws(
                        "|",
                        F.col("user_id"),
                        F.col("_session_start_us").cast("string"),
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
                (F.col("_us") - F.col("_prev_us")) / 1e6
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
