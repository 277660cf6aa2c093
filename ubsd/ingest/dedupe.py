"""Duplicates: same event_id and content is a duplicate (the first ingested survives); same
event_id with other content is quarantined as ``conflicting_duplicate``.

"First" means first by source file path, then position in the file, among the rows that passed
validation. Deduplication covers the rows of one run (all its dates): a rerun gives the same
answer whatever else is in the tables.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from ubsd.ingest.validate import content_hash


def mark_duplicates(df: DataFrame) -> DataFrame:
    """Add ``bucket`` (accepted, quarantined, duplicate or filtered) and the conflict reasons.

    Rows a source adapter filtered (``src_filter``) take no part in deduplication.
    """
    filtered = F.col("src_filter").isNotNull() if "src_filter" in df.columns else F.lit(False)
    valid = F.col("reason").isNull() & ~filtered
    group = Window.partitionBy("event_id", "_valid").orderBy("source_file", "row_order")
    whole = group.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    ranked = (
        df.withColumn("_valid", valid)
        .withColumn("_h", F.when(valid, content_hash()))
        .withColumn("_rank", F.row_number().over(group))
        .withColumn("_first_h", F.first("_h").over(whole))
    )
    is_later = F.col("_valid") & (F.col("_rank") > 1)
    conflict = is_later & (F.col("_h") != F.col("_first_h"))
    duplicate = is_later & (F.col("_h") == F.col("_first_h"))
    out = ranked.withColumn(
        "reason", F.when(conflict, F.lit("conflicting_duplicate")).otherwise(F.col("reason"))
    ).withColumn(
        "detail",
        F.when(conflict, F.lit("event_id seen earlier with other content")).otherwise(
            F.col("detail")
        ),
    )
    bucket = (
        F.when(duplicate, F.lit("duplicate"))
        .when(F.col("reason").isNotNull(), F.lit("quarantined"))
        .when(filtered, F.lit("filtered"))
        .otherwise(F.lit("accepted"))
    )
    return out.withColumn("bucket", bucket).drop("_valid", "_h", "_rank", "_first_h")
