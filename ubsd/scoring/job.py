"""The scoring job's one function: windows of the run's dates -> fraud labels + user rollup.

1. Pin the model (:mod:`ubsd.scoring.pin`) and check every window's feature spec: any failure
   raises before a row is written.
2. Score every window with ``predict_batch_udf`` (cached, counted: rows in must equal rows
   scored), apply the threshold stored with the model.
3. Explain the highest-scoring flagged windows of each date (capped), on the driver.
4. Replace the dates in the labels table, then in the per-user daily rollup (``replaceWhere``).
5. Summarise (returned as the run summary, also logged to MLflow).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType, StructField, StructType

from ubsd.config import Settings
from ubsd.io.paths import resolve_under
from ubsd.io.schemas import (
    FRAUD_LABELS_SCHEMA,
    REASON_STRUCT,
    USER_DAILY_SCHEMA,
    WINDOWS_SCHEMA,
)
from ubsd.io.tables import read_table, write_dates
from ubsd.model.artifact import BehaviorModel
from ubsd.runs import RunContext
from ubsd.scoring.pin import PinnedModel, ScoringError, check_feature_versions, pin_model
from ubsd.scoring.reasons import REASON_INPUTS, explain_rows
from ubsd.scoring.rollup import user_daily
from ubsd.scoring.runtime import pick_device
from ubsd.scoring.summary import log_to_mlflow
from ubsd.scoring.udf import packed_inputs, scores_udf

log = logging.getLogger("ubsd.scoring")

ARROW_BATCH = "spark.sql.execution.arrow.maxRecordsPerBatch"
META = (
    "window_id",
    "user_id",
    "session_id",
    "start_ts",
    "end_ts",
    "n_events",
    "feature_version",
    "date",
)
REASONS_TYPE = StructType(
    [
        StructField("window_id", StringType(), False),
        StructField("reasons", ArrayType(REASON_STRUCT, False), True),
        StructField("reason_text", StringType(), True),
    ]
)


def score_windows(
    spark: SparkSession, windows: DataFrame, pinned: PinnedModel, settings: Settings
) -> DataFrame:
    """Windows' ids and both scores, computed by the UDF once (persisted) and counted.

    Always shuffled by window_id first: input splits say nothing about rows (a day written as
    one Parquet row group reads as two splits, one of them empty, and scored on one core), and
    the model costs far more per window than the shuffle. Sorted within partitions, so the same
    rows form the same batches on every rerun.
    """
    cfg = settings.scoring
    have = windows.rdd.getNumPartitions()
    want = cfg.partitions or max(spark.sparkContext.defaultParallelism, have)
    src = windows.repartition(want, "window_id").sortWithinPartitions("window_id")
    udf = scores_udf(pinned, settings)
    scored = src.select(*META, udf(packed_inputs()).alias("s")).select(*META, "s.*")
    previous = spark.conf.get(ARROW_BATCH)
    spark.conf.set(ARROW_BATCH, str(cfg.arrow_batch_size))
    try:
        scored = scored.persist(StorageLevel.MEMORY_AND_DISK)
        scored.count()
    finally:
        spark.conf.set(ARROW_BATCH, previous)
    return scored


def apply_threshold(scored: DataFrame, pinned: PinnedModel) -> DataFrame:
    prob = (
        F.col("fraud_probability").cast("double")
        if pinned.has_classifier
        else F.lit(None).cast("double")
    )
    zl = F.col("zero_label_score").cast("double")
    score = prob if pinned.has_classifier else zl
    return scored.select(
        *[c for c in META if c != "feature_version"],
        prob.alias("fraud_probability"),
        zl.alias("zero_label_score"),
        F.coalesce(score >= F.lit(pinned.threshold), F.lit(False)).alias("is_fraud"),
        F.lit(pinned.threshold).cast("double").alias("threshold"),
        F.lit(pinned.alert_source).alias("alert_source"),
        F.lit(pinned.name).alias("model_name"),
        F.lit(pinned.version).alias("model_version"),
        "feature_version",
    )


def explain_flagged(
    spark: SparkSession,
    windows: DataFrame,
    labelled: DataFrame,
    model: BehaviorModel,
    settings: Settings,
    device: Any,
) -> tuple[DataFrame, int]:
    """Reasons for the top ``explain_max_windows`` flagged windows of each date."""
    cfg = settings.scoring
    if cfg.explain_max_windows == 0:
        return spark.createDataFrame([], REASONS_TYPE), 0
    score = F.coalesce(F.col("fraud_probability"), F.col("zero_label_score"))
    rank = Window.partitionBy("date").orderBy(score.desc(), F.col("window_id"))
    chosen = (
        labelled.where("is_fraud")
        .withColumn("_rank", F.row_number().over(rank))
        .where(F.col("_rank") <= cfg.explain_max_windows)
        .select("window_id", "date")
    )
    rows = [
        r.asDict()
        for r in windows.join(chosen, ["window_id", "date"]).select(*REASON_INPUTS).collect()
    ]
    rows.sort(key=lambda r: r["window_id"])  # same batches on every rerun
    explained = explain_rows(model, rows, cfg, device)
    return spark.createDataFrame(explained, REASONS_TYPE), len(explained)


def run_scoring(spark: SparkSession, settings: Settings, ctx: RunContext) -> dict[str, Any]:
    timings: dict[str, float] = {}
    t = time.monotonic()
    root, fmt = settings.storage.root, settings.storage.format
    paths = {
        "windows": resolve_under(root, settings.storage.windows_table),
        "fraud_labels": resolve_under(root, settings.storage.fraud_labels_table),
        "user_daily": resolve_under(root, settings.storage.user_daily_table),
    }
    device = pick_device(settings.scoring)
    pinned, model = pin_model(settings, device=str(device))
    windows = read_table(spark, paths["windows"], fmt, WINDOWS_SCHEMA, ctx.dates)
    found = [r[0] for r in windows.select("feature_version").distinct().collect()]
    check_feature_versions(pinned, model, found)
    rows_in = windows.count()
    timings["resolve_and_check"] = round(time.monotonic() - t, 3)
    log.info("scoring %d windows of %s with %s", rows_in, ctx.label, pinned.what)

    t = time.monotonic()
    scored = score_windows(spark, windows, pinned, settings)
    rows_scored = scored.count()
    missing = scored.where(F.col("zero_label_score").isNull()).count()
    timings["score"] = round(time.monotonic() - t, 3)
    if rows_scored != rows_in or missing:
        scored.unpersist()
        raise ScoringError(
            f"scoring with {pinned.what}: {rows_in} windows in but {rows_scored} scored "
            f"({missing} without a score); nothing written"
        )
    try:
        labelled = apply_threshold(scored, pinned)
        flagged = labelled.where("is_fraud").count()

        t = time.monotonic()
        reasons, explained = explain_flagged(spark, windows, labelled, model, settings, device)
        timings["reasons"] = round(time.monotonic() - t, 3)

        t = time.monotonic()
        out = labelled.join(reasons, "window_id", "left").select(
            "*",
            F.lit(ctx.run_id).alias("run_id"),
            F.lit(ctx.processed_at).cast("timestamp").alias("scored_at"),
        )
        write_dates(out, paths["fraud_labels"], ctx.dates, fmt, FRAUD_LABELS_SCHEMA)
        written = read_table(spark, paths["fraud_labels"], fmt, FRAUD_LABELS_SCHEMA, ctx.dates)
        rows_written = written.count()
        write_dates(user_daily(written), paths["user_daily"], ctx.dates, fmt, USER_DAILY_SCHEMA)
        users = read_table(spark, paths["user_daily"], fmt, USER_DAILY_SCHEMA, ctx.dates).count()
        timings["write"] = round(time.monotonic() - t, 3)
    finally:
        scored.unpersist()
    if rows_written != rows_scored:
        raise ScoringError(f"{rows_scored} windows scored but {rows_written} rows in the table")
    summary: dict[str, Any] = {
        "status": "ok",
        "model": {
            "name": pinned.name,
            "version": pinned.version,
            "alias": pinned.alias,
            "digest": pinned.model_digest,
            "run_id": pinned.run_id,
            "feature_version": pinned.feature_version,
            "threshold": pinned.threshold,
            "alert_source": pinned.alert_source,
        },
        "rows_in": rows_in,
        "rows_scored": rows_scored,
        "reconciled": rows_in == rows_scored == rows_written,
        "flagged": flagged,
        "flagged_rate": round(flagged / rows_in, 6) if rows_in else 0.0,
        "explained": explained,
        "users": users,
        "device": str(device),
        "precision": settings.scoring.precision
        if device.type == "cpu"
        else (settings.scoring.gpu_precision),
        "tables": {k: paths[k] for k in ("fraud_labels", "user_daily")},
        "timings_s": timings,
        "duration_s": round(sum(timings.values()), 3),
    }
    summary["mlflow_run_id"] = log_to_mlflow(settings, ctx, summary)
    return summary
