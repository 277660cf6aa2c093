"""Any CSV / JSON-lines / Parquet clickstream, through a YAML column mapping (``mapping.py``).

Strictness matches ingest's: a CSV line with the wrong number of fields or a JSON line that is
not an object is ``malformed_record``; a timestamp not in the mapping's format is
``unparseable_timestamp``; unmapped event types are kept, quarantined or filtered, as configured.
"""

from __future__ import annotations

import re

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from ubsd.config import SourceSettings
from ubsd.sources.frame import (
    blank_to_null,
    content_id,
    contract_frame,
    epoch_text,
    filter_code,
    first_check,
    read_lines,
)
from ubsd.sources.mapping import Mapping, MappingError, load_mapping

_CORRUPT = "_corrupt_record"
_ZONE_LETTERS = re.compile(r"[XxZzOV]")


def _strings(names: list[str]) -> StructType:
    return StructType([StructField(n, StringType(), True) for n in names])


def _csv(spark: SparkSession, path: str, m: Mapping) -> DataFrame:
    lines = read_lines(spark, path)
    if m.header:
        first = spark.read.text(path).limit(1).collect()
        if not first:
            raise MappingError(f"{path}: empty CSV, no header")
        header = first[0][0].rstrip("\r")
        names = [h.strip().strip('"') for h in header.split(m.delimiter)]
        lines = lines.where(F.col("raw") != F.lit(header))
    else:
        names = list(m.column_names or [])
    missing = sorted(set(m.source_columns()) - set(names))
    if missing:
        raise MappingError(f"{path}: mapped columns not in the CSV: {missing} (has {names})")
    schema = _strings(names)
    sep = re.escape(m.delimiter)
    # Field count with quoted fields folded to one token each.
    tokens = F.split(F.regexp_replace("raw", r'"(?:[^"]|"")*"', "Q"), sep, -1)
    corrupt = (F.size(tokens) != len(names)) | (F.trim("raw") == "")
    parsed = F.from_csv("raw", schema.toDDL(), {"sep": m.delimiter, "mode": "PERMISSIVE"})
    return lines.select(
        "raw",
        "source_file",
        corrupt.alias("corrupt"),
        *[F.when(~corrupt, parsed[n]).alias(n) for n in m.source_columns()],
    )


def _json(spark: SparkSession, path: str, m: Mapping) -> DataFrame:
    cols = m.source_columns()
    schema = StructType([*_strings(cols).fields, StructField(_CORRUPT, StringType(), True)])
    opts = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": _CORRUPT}
    parsed = read_lines(spark, path).withColumn("_p", F.from_json("raw", schema, opts))
    corrupt = (
        F.col(f"_p.{_CORRUPT}").isNotNull() | F.col("_p").isNull() | ~F.trim("raw").startswith("{")
    )
    return parsed.select(
        "raw",
        "source_file",
        corrupt.alias("corrupt"),
        *[F.when(~corrupt, F.col("_p")[n]).alias(n) for n in cols],
    )


def _parquet(spark: SparkSession, path: str, m: Mapping) -> DataFrame:
    df = spark.read.parquet(path)
    missing = sorted(set(m.source_columns()) - set(df.columns))
    if missing:
        raise MappingError(f"{path}: mapped columns not in the Parquet data: {missing}")
    return df.select(
        F.to_json(F.struct(*[F.col(f"`{c}`") for c in df.columns])).alias("raw"),
        F.col("_metadata.file_path").alias("source_file"),
        F.lit(False).alias("corrupt"),
        *[F.col(f"`{c}`").cast("string").alias(c) for c in m.source_columns()],
    )


def _timestamp(value: Column, m: Mapping) -> tuple[Column, Column]:
    """``(ts text for ingest, parse failed)`` per the mapping's timestamp_format."""
    fmt = m.timestamp_format
    if fmt == "auto":
        return value, F.lit(False)
    if fmt == "epoch_s":
        ok = value.rlike(r"^-?\d+(\.\d+)?$")
        ts = F.timestamp_micros((value.try_cast("decimal(20,6)") * 1_000_000).cast("long"))
    elif fmt == "epoch_ms":
        ok = value.rlike(r"^-?\d+$")
        ts = F.timestamp_millis(value.try_cast("long"))
    else:
        ok = F.lit(True)
        ts = F.try_to_timestamp(value, F.lit(fmt))
        if not _ZONE_LETTERS.search(re.sub(r"'[^']*'", "", fmt)) and m.timestamp_zone != "UTC":
            ts = F.to_utc_timestamp(ts, m.timestamp_zone)
    good = ok & ts.isNotNull()
    return F.when(good, epoch_text(ts)).otherwise(value), value.isNotNull() & ~good


def read(spark: SparkSession, path: str, cfg: SourceSettings) -> DataFrame:
    m = load_mapping(cfg.mapping_file or "")
    readers = {"csv": _csv, "json": _json, "parquet": _parquet}
    df = readers[m.format](spark, path, m)

    fields: dict[str, Column] = {
        dst: blank_to_null(F.col(f"`{src}`")) for src, dst in m.columns.items()
    }
    fields.update({dst: F.lit(value) for dst, value in m.constants.items()})
    ts, ts_failed = _timestamp(fields["ts"], m)
    fields["ts"] = ts

    checks: list[tuple[str, Column, Column]] = (
        [
            (
                "unparseable_timestamp",
                ts_failed,
                F.concat(
                    F.lit("ts="),
                    F.col(f"`{m.source_column('ts')}`"),
                    F.lit(f" ({m.timestamp_format})"),
                ),
            )
        ]
        if m.source_column("ts")
        else []
    )
    src_filter: Column = F.lit(None).cast("string")
    if m.event_types and "event_type" not in m.constants:
        raw_type = fields["event_type"]
        lookup = F.create_map(
            *[F.lit(x) for k, v in m.event_types.items() for x in (k.strip().lower(), v)]
        )
        mapped = F.try_element_at(lookup, F.lower(raw_type))
        unmapped = raw_type.isNotNull() & mapped.isNull()
        fields["event_type"] = F.coalesce(mapped, raw_type)
        if m.unmapped_event_types == "quarantine":
            checks.append(
                ("unknown_event_type", unmapped, F.concat(F.lit("event_type="), raw_type))
            )
        elif m.unmapped_event_types == "filter":
            src_filter = F.when(unmapped, filter_code("unmapped_event_type"))
    if "event_id" not in fields:
        fields["event_id"] = content_id("mp", F.col("raw"))
    reason, detail = first_check(checks)

    extra: dict[str, Column] = {
        "src_reason": reason,
        "src_detail": detail,
        "src_filter": src_filter,
        "src_user_sensitive": F.lit(m.sensitive_user_id),
    }
    if m.label_column:
        value = F.lower(F.trim(F.col(f"`{m.label_column}`")))
        positives = [v.lower() for v in m.label_positive_values]
        extra["src_label"] = F.when(value.isNotNull() & (value != ""), value.isin(*positives))
        extra["src_label_type"] = F.lit(m.label_type)
    return contract_frame(df, fields, extra)


def provides_labels(cfg: SourceSettings) -> bool:
    return bool(cfg.mapping_file) and load_mapping(cfg.mapping_file or "").label_column is not None
