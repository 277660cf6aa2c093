"""The shape every source adapter returns, and helpers the adapters share.

An adapter maps one source row to one candidate event: the contract's fields as text
(``RAW_FIELDS``), ``raw`` (the row as read, for quarantine), ``corrupt`` (not a record of the
format), ``source_file``, and the ``src_*`` columns below. Ingest validates the contract fields
as it validates any input; the ``src_*`` columns carry what only the adapter can know.

Everything here is Spark SQL built-ins: no Python UDFs.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, MapType, StringType, StructField, StructType

from ubsd.io.schemas import FILTER_REASONS, QUARANTINE_REASONS, RAW_FIELDS

#: Adapter-only columns, null on the contract path.
SOURCE_COLUMNS = StructType(
    [
        # A quarantine reason the adapter found (QUARANTINE_REASONS), and its detail. Ingest keeps
        # the earlier of this and its own reason, in QUARANTINE_REASONS order.
        StructField("src_reason", StringType(), True),
        StructField("src_detail", StringType(), True),
        # A FILTER_REASONS code: a valid row that yields no event (bucket ``filtered``).
        StructField("src_filter", StringType(), True),
        # True: user_id holds clear values (an IP, a session cookie) and is stored as a keyed hash.
        StructField("src_user_sensitive", BooleanType(), True),
        # Ground truth for the labels input (LABELS_SCHEMA), never an event column.
        StructField("src_label", BooleanType(), True),
        StructField("src_label_type", StringType(), True),
        # Source fields with no contract column, kept as the events' ``attrs`` map.
        StructField("src_attrs", MapType(StringType(), StringType()), True),
    ]
)
SOURCE_COLUMN_NAMES: tuple[str, ...] = tuple(f.name for f in SOURCE_COLUMNS.fields)


def with_source_defaults(df: DataFrame) -> DataFrame:
    """Add the ``src_*`` columns an input lacks, as nulls (the contract path has none)."""
    for f in SOURCE_COLUMNS.fields:
        if f.name not in df.columns:
            df = df.withColumn(f.name, F.lit(None).cast(f.dataType))
    return df


def blank_to_null(c: Column) -> Column:
    """Trimmed text, null when empty."""
    t = F.trim(c)
    return F.when(t != "", t)


def content_id(prefix: str, *cols: Column) -> Column:
    """A deterministic event id from a row's content (sources without ids): equal rows, equal ids.

    Identical source rows are therefore duplicates of each other (docs/data-contract.md).
    """
    joined = F.concat_ws("\u001f", *[F.coalesce(c.cast("string"), F.lit("")) for c in cols])
    return F.concat(F.lit(f"{prefix}-"), F.substring(F.sha2(joined, 256), 1, 32))


def epoch_text(ts: Column) -> Column:
    """A timestamp as epoch seconds with microseconds (``"1510000000.123456"``).

    Ingest parses that form exactly and without any time zone, whatever the session's zone is.
    """
    return (F.unix_micros(ts) / F.lit(1_000_000)).cast("decimal(20,6)").cast("string")


def first_check(checks: list[tuple[str, Column, Column]]) -> tuple[Column, Column]:
    """``(reason, detail)`` of the first check that holds, in the order given (else null)."""
    for code, _, _ in checks:
        if code not in QUARANTINE_REASONS:
            raise ValueError(f"unknown quarantine reason {code!r}")
    reason: Column = F.lit(None).cast("string")
    detail: Column = F.lit(None).cast("string")
    for code, cond, why in reversed(checks):
        reason = F.when(cond, F.lit(code)).otherwise(reason)
        detail = F.when(cond, why).otherwise(detail)
    return reason, detail


def filter_code(code: str) -> Column:
    """A literal filter reason, checked against FILTER_REASONS."""
    if code not in FILTER_REASONS:
        raise ValueError(f"unknown filter reason {code!r}")
    return F.lit(code)


def read_lines(spark: SparkSession, path: str, header: str | None = None) -> DataFrame:
    """Text lines (``raw``, ``source_file``), minus header lines matching regex ``header``.

    A header is not a source row. Trailing carriage returns (CRLF files) are dropped.
    """
    lines = spark.read.text(path).select(
        F.regexp_replace(F.col("value"), r"\r$", "").alias("raw"),
        F.col("_metadata.file_path").alias("source_file"),
    )
    if header is not None:
        lines = lines.where(~F.col("raw").rlike(header))
    return lines


def split_fields(
    raw: Column, sep_regex: str, names: tuple[str, ...]
) -> tuple[Column, list[Column]]:
    """Split an unquoted delimited line: ``(corrupt, fields)``; corrupt on a wrong field count.

    Blank lines are corrupt too; fields of a corrupt line are null.
    """
    parts = F.split(raw, sep_regex, -1)
    corrupt = (F.size(parts) != len(names)) | (F.trim(raw) == "")
    fields = [
        F.when(~corrupt, blank_to_null(F.try_element_at(parts, F.lit(i + 1)))).alias(n)
        for i, n in enumerate(names)
    ]
    return corrupt, fields


def contract_frame(df: DataFrame, fields: dict[str, Column], extra: dict[str, Column]) -> DataFrame:
    """Select the adapter frame: contract fields (text), raw, corrupt, source_file, ``src_*``."""
    unknown = set(fields) - set(RAW_FIELDS)
    if unknown:
        raise ValueError(f"not contract fields: {sorted(unknown)}")
    bad = set(extra) - set(SOURCE_COLUMN_NAMES)
    if bad:
        raise ValueError(f"not source columns: {sorted(bad)}")
    types = {f.name: f.dataType for f in SOURCE_COLUMNS.fields}
    return df.select(
        *[
            (fields[n].cast("string") if n in fields else F.lit(None).cast("string")).alias(n)
            for n in RAW_FIELDS
        ],
        F.col("raw"),
        F.col("corrupt").cast("boolean").alias("corrupt"),
        F.col("source_file"),
        *[
            (extra[n] if n in extra else F.lit(None)).cast(types[n]).alias(n)
            for n in SOURCE_COLUMN_NAMES
        ],
    )
