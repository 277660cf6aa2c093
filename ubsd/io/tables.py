"""Reading and writing date-partitioned tables (Delta, or Parquet as a fallback).

Every write owns exactly the dates of its run: Delta's ``replaceWhere`` replaces them atomically
and leaves other dates alone; the Parquet fallback replaces date folders one by one (not atomic).
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Sequence
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType


def dates_predicate(dates: Sequence[dt.date], column: str = "date") -> str:
    """SQL predicate selecting exactly ``dates`` (a contiguous range becomes BETWEEN).

    >>> import datetime as dt
    >>> dates_predicate([dt.date(2026, 11, 1), dt.date(2026, 11, 2)])
    "date >= '2026-11-01' AND date <= '2026-11-02'"
    >>> dates_predicate([dt.date(2026, 11, 1), dt.date(2026, 11, 3)])
    "date IN ('2026-11-01', '2026-11-03')"
    """
    ds = sorted(set(dates))
    if not ds:
        raise ValueError("no dates given")
    contiguous = (ds[-1] - ds[0]).days == len(ds) - 1
    if contiguous:
        return f"{column} >= '{ds[0].isoformat()}' AND {column} <= '{ds[-1].isoformat()}'"
    return f"{column} IN ({', '.join(repr(d.isoformat()) for d in ds)})"


def conform(df: DataFrame, schema: StructType) -> DataFrame:
    """Select and cast ``df`` to ``schema``'s columns, in order.

    A missing *nullable* column reads as nulls (a table written before the column was added:
    schemas only grow by nullable columns); a missing required column is an error.
    """
    missing = [f.name for f in schema.fields if f.name not in df.columns and not f.nullable]
    if missing:
        raise ValueError(f"missing columns for table schema: {missing}")
    have = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    return df.select(
        [
            F.lit(None).cast(f.dataType).alias(f.name)
            if f.name not in have
            else F.col(f.name)
            if have[f.name] == f.dataType.simpleString()  # nullability differences are fine
            else F.col(f.name).cast(f.dataType).alias(f.name)
            for f in schema.fields
        ]
    )


def table_exists(spark: SparkSession, path: str, fmt: str) -> bool:
    if fmt == "delta":
        from delta.tables import DeltaTable

        return DeltaTable.isDeltaTable(spark, path)
    p = Path(path)
    return p.is_dir() and any(p.iterdir())


def write_dates(
    df: DataFrame,
    path: str,
    dates: Sequence[dt.date],
    fmt: str,
    schema: StructType,
    partition_column: str = "date",
) -> None:
    """Replace the given dates of the table at ``path`` with ``df`` (rows outside them refused).

    An empty ``df`` empties those dates: a rerun of a day that lost its input must not leave the
    old rows behind.
    """
    predicate = dates_predicate(dates, partition_column)
    out = conform(df, schema)
    if fmt == "delta":
        (
            out.write.format("delta")
            .mode("overwrite")
            .option("replaceWhere", predicate)
            .option("mergeSchema", "true")  # a nullable column added since the table was made
            .partitionBy(partition_column)
            .save(path)
        )
        return
    # Parquet fallback: dynamic partition overwrite replaces the dates present in df; dates that
    # became empty are removed by hand.
    (
        out.write.format("parquet")
        .mode("overwrite")
        .option("partitionOverwriteMode", "dynamic")
        .partitionBy(partition_column)
        .save(path)
    )
    present = {r[0] for r in out.select(partition_column).distinct().collect()}
    for d in dates:
        if d not in present:
            folder = Path(path) / f"{partition_column}={d.isoformat()}"
            if folder.exists():
                shutil.rmtree(folder)


def read_table(
    spark: SparkSession,
    path: str,
    fmt: str,
    schema: StructType,
    dates: Sequence[dt.date] | None = None,
) -> DataFrame:
    """Read a table (or just some dates of it); a table not written yet reads as empty."""
    if not table_exists(spark, path, fmt):
        return spark.createDataFrame([], schema)
    reader = spark.read.format(fmt)
    if fmt == "parquet":
        reader = reader.schema(schema)
    df = reader.load(path)
    if dates is not None:
        df = df.where(dates_predicate(dates))
    return conform(df, schema)
