"""Read raw input of any supported format into one shape: every contract field as text.

Output columns: the contract's fields (strings, null when absent), ``raw`` (the row as read, for
quarantine), ``corrupt`` (the row could not be parsed as a record), ``source_file``,
``input_date`` (the run date whose input held the row) and ``row_order`` (file, then position:
what "first ingested" means for duplicates).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, StringType, StructField, StructType

from ubsd.config import SourceSettings
from ubsd.io.schemas import RAW_FIELDS, RAW_TEXT_SCHEMA
from ubsd.sources import read_source

_CORRUPT = "_corrupt_record"


@dataclass
class SchemaDrift:
    """Columns an input brought that the contract does not know, or lacked."""

    extra_columns: set[str] = field(default_factory=set)
    missing_columns: set[str] = field(default_factory=set)
    repaired_columns: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "extra_columns": sorted(self.extra_columns),
            "missing_columns": sorted(self.missing_columns),
            "repaired_columns": dict(sorted(self.repaired_columns.items())),
        }


def path_exists(spark: SparkSession, path: str) -> bool:
    """True if ``path`` (local or any Hadoop URI, globs allowed) holds at least one data file.

    An empty folder counts as missing input: it is what a failed upstream export leaves behind.
    """
    jvm = spark.sparkContext._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    fs = hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    for status in fs.globStatus(hpath) or []:
        if status.isFile():
            return True
        for child in fs.listStatus(status.getPath()):
            name = child.getPath().getName()
            if child.isFile() and not name.startswith(("_", ".")):
                return True
    return False


def _finish(df: DataFrame, input_date: dt.date) -> DataFrame:
    return df.withColumn("input_date", F.lit(input_date)).withColumn(
        "row_order", F.monotonically_increasing_id()
    )


def _read_json(spark: SparkSession, path: str) -> DataFrame:
    schema = StructType([*RAW_TEXT_SCHEMA.fields, StructField(_CORRUPT, StringType(), True)])
    # A UTF-8 byte-order mark would make a file's first line look like no JSON object.
    text = spark.read.text(path).select(
        F.regexp_replace("value", "^\ufeff", "").alias("raw"),
        F.col("_metadata.file_path").alias("source_file"),
    )
    parsed = text.withColumn(
        "_p",
        F.from_json("raw", schema, {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": _CORRUPT}),
    )
    # Blank lines, non-object JSON and unparseable lines are all corrupt records.
    is_object = F.trim(F.col("raw")).startswith("{")
    corrupt = (
        F.col(f"_p.{_CORRUPT}").isNotNull()
        | F.col("_p").isNull()
        | ~is_object
        | (F.trim(F.col("raw")) == "")
    )
    return parsed.select(
        *[F.when(~corrupt, F.col(f"_p.{n}")).alias(n) for n in RAW_FIELDS],
        "raw",
        corrupt.alias("corrupt"),
        "source_file",
    )


def column_key(name: str, first: bool = False) -> str:
    """A header name as matched against the contract; the first column loses a stray prefix.

    >>> column_key(" User_ID ")
    'user_id'
    >>> column_key("..event_id", first=True)  # bytes before the header (TalkingData's sample)
    'event_id'
    """
    key = name.lower().strip()
    return re.sub(r"^[^0-9a-z_]+", "", key) if first else key


def _from_columns(df: DataFrame, drift: SchemaDrift) -> DataFrame:
    """Map a typed or text table (CSV, Parquet) onto the text contract by column name."""
    cols = {column_key(c, i == 0): c for i, c in enumerate(df.columns)}
    drift.repaired_columns |= {c: k for k, c in cols.items() if k != c.lower().strip()}
    drift.extra_columns |= {c for c in cols if c not in RAW_FIELDS and not c.startswith("_")}
    drift.missing_columns |= {n for n in RAW_FIELDS if n not in cols}
    originals = [F.col(f"`{c}`") for c in df.columns]
    return df.select(
        *[
            (
                F.col(f"`{cols[n]}`").cast("string") if n in cols else F.lit(None).cast("string")
            ).alias(n)
            for n in RAW_FIELDS
        ],
        F.to_json(F.struct(*originals)).alias("raw"),
        F.lit(False).alias("corrupt"),
        F.col("_metadata.file_path").alias("source_file"),
    )


def read_raw(
    spark: SparkSession, paths: dict[dt.date, str], fmt: str, drift: SchemaDrift
) -> DataFrame:
    """Read each run date's input path and union them into the text contract shape."""
    frames = []
    for day, path in sorted(paths.items()):
        if fmt == "json":
            df = _read_json(spark, path)
        elif fmt == "csv":
            # enforceSchema=false: every file's header is checked against the first one's, so
            # files whose columns differ fail loudly instead of being mapped by position.
            df = _from_columns(
                spark.read.option("header", "true")
                .option("mode", "PERMISSIVE")
                .option("inferSchema", "false")
                .option("enforceSchema", "false")
                .csv(path),
                drift,
            )
        elif fmt == "parquet":
            df = _from_columns(spark.read.parquet(path), drift)
        else:
            raise ValueError(f"unsupported input format {fmt!r} (json, csv, parquet)")
        frames.append(_finish(df, day))
    out = frames[0]
    for other in frames[1:]:
        out = out.unionByName(other)
    return out


def read_adapter(spark: SparkSession, paths: dict[dt.date, str], cfg: SourceSettings) -> DataFrame:
    """Read each run date's input with the configured source adapter (``ubsd.sources``)."""
    frames = [_finish(read_source(spark, cfg, path), day) for day, path in sorted(paths.items())]
    out = frames[0]
    for other in frames[1:]:
        out = out.unionByName(other)
    return out


def empty_raw(spark: SparkSession) -> DataFrame:
    """An input with no rows, in the same shape (for an empty day)."""
    schema = StructType(
        [
            *RAW_TEXT_SCHEMA.fields,
            StructField("raw", StringType()),
            StructField("corrupt", BooleanType()),
            StructField("source_file", StringType()),
        ]
    )
    df = spark.createDataFrame([], schema)
    return df.withColumn("input_date", F.lit(None).cast("date")).withColumn(
        "row_order", F.lit(0).cast("long")
    )
