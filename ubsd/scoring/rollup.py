"""Per-user daily rollup of the fraud labels: max scores, flagged windows, top reason."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F


def user_daily(labels: DataFrame) -> DataFrame:
    """One row per (date, user_id); ``top_reason`` is the reason of the user's highest-scoring
    explained window (ties broken by window_id, so reruns agree)."""
    score = F.coalesce(F.col("fraud_probability"), F.col("zero_label_score"))
    best = Window.partitionBy("date", "user_id").orderBy(score.desc(), F.col("window_id"))
    top = (
        labels.where(F.col("reason_text").isNotNull())
        .withColumn("_rank", F.row_number().over(best))
        .where("_rank = 1")
        .select("date", "user_id", F.col("reason_text").alias("top_reason"))
    )
    agg = labels.groupBy("date", "user_id").agg(
        F.count(F.lit(1)).cast("int").alias("windows"),
        F.sum(F.col("is_fraud").cast("int")).cast("int").alias("flagged_windows"),
        F.max("fraud_probability").alias("max_probability"),
        F.max("zero_label_score").alias("max_zero_label_score"),
        F.first("model_version").alias("model_version"),
        F.first("run_id").alias("run_id"),
        F.first("scored_at").alias("scored_at"),
    )
    return agg.join(top, ["date", "user_id"], "left")
