"""The ingest run: read the run's input, validate, dedupe, write events and quarantine, reconcile.

Reconciliation: every row read lands in exactly one bucket (accepted, quarantined, duplicate,
filtered); the run checks ``rows_read == sum(buckets)`` and fails if not.

Source adapters (``source.kind``, ``ubsd.sources``) hook in at the read: their rows are validated,
deduplicated and reconciled like any input. An input path without ``{date}`` is one input spanning
many dates: it is read once, and its valid rows dated outside the run are ``filtered``.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ubsd.config import Settings
from ubsd.ingest.dedupe import mark_duplicates
from ubsd.ingest.hashing import hash_key, keyed_hash
from ubsd.ingest.readers import SchemaDrift, empty_raw, path_exists, read_adapter, read_raw
from ubsd.ingest.validate import classify
from ubsd.io.paths import resolve_under
from ubsd.io.schemas import EVENTS_SCHEMA, LABELS_SCHEMA, QUARANTINE_REASONS, QUARANTINE_SCHEMA
from ubsd.io.tables import write_dates
from ubsd.runs import RunContext
from ubsd.sources import provides_labels, with_source_defaults

log = logging.getLogger("ubsd.ingest")

BUCKETS = ("accepted", "quarantined", "duplicate", "filtered")

# Raw rows in quarantine keep their text, minus the values that must not leave ingest in clear.
_IP_V4 = r"\b(?:\d{1,3}\.){3}\d{1,3}\b"
# IPv6: the full eight groups, or any form compressed with "::" (times like 10:00:00 never match).
_H4 = "[0-9a-f]{1,4}"
_IP_V6 = (
    rf"(?i)(?<![0-9a-f:])(?:(?:{_H4}:){{7}}{_H4}"
    rf"|(?:{_H4}(?::{_H4}){{0,6}})?::(?:{_H4}(?::{_H4}){{0,6}})?)(?![0-9a-f:])"
)
# The value of an ip/device_id key: a string (closing quote optional: truncated lines) or a token.
_SECRET_FIELDS = r'(?i)("(?:ip|device_id)"\s*:\s*)(?:"(?:[^"\\]|\\.)*"?|[^\s,}\]]+)'


class IngestError(RuntimeError):
    """The ingest run cannot proceed (missing input, reconciliation failure)."""

    def __init__(self, message: str, summary: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.summary = summary


class QuarantineRateError(IngestError):
    """Too many rows were quarantined; the numbers are in the message and the run summary."""


def scrub_raw(raw: Any) -> Any:
    """Mask IPs and device ids in quarantined raw text (a Spark column expression)."""
    masked = F.regexp_replace(raw, _SECRET_FIELDS, '$1"<redacted>"')
    masked = F.regexp_replace(masked, _IP_V4, "<ip-redacted>")
    return F.regexp_replace(masked, _IP_V6, "<ip-redacted>")


def shared_input(settings: Settings) -> bool:
    """True if the input path has no ``{date}``: one input spanning many dates."""
    return "{date}" not in (settings.source.input_path or settings.storage.input_path)


def input_paths(settings: Settings, dates: list[dt.date]) -> dict[dt.date, str]:
    """Each run date's input. ``source.input_path`` is read-only and may lie outside the root."""
    pattern = settings.source.input_path
    if pattern is None:
        root, pattern = settings.storage.root, settings.storage.input_path
        return {d: resolve_under(root, pattern.replace("{date}", d.isoformat())) for d in dates}
    return {
        d: p if "://" in p else str(Path(p).expanduser().resolve())
        for d, p in ((d, pattern.replace("{date}", d.isoformat())) for d in dates)
    }


def _read(spark: SparkSession, settings: Settings, dates: list[dt.date], drift: SchemaDrift):
    paths = input_paths(settings, dates)
    # One input spanning many dates is read once (under the first date; rows find their own).
    wanted = {dates[0]: paths[dates[0]]} if shared_input(settings) else paths
    present = {d: p for d, p in wanted.items() if path_exists(spark, p)}
    missing = sorted(set(paths) - set(present)) if wanted is paths else ([] if present else dates)
    if missing and settings.ingest.missing_input == "fail":
        raise IngestError(
            "no input for "
            + ", ".join(f"{d} ({paths[d]})" for d in missing)
            + "; set ingest.missing_input: empty to write an empty day instead"
        )
    for d in missing:
        log.warning("no input for %s at %s: writing an empty day", d, paths[d])
    if not present:
        df = empty_raw(spark)
    elif settings.source.kind == "contract":
        df = read_raw(spark, present, settings.ingest.input_format, drift)
    else:
        df = read_adapter(spark, present, settings.source)
    return with_source_defaults(df), paths, missing


def merge_source_reason(df: DataFrame) -> DataFrame:
    """Keep the earlier, in QUARANTINE_REASONS order, of the adapter's reason and ingest's."""
    order = F.array(*[F.lit(r) for r in QUARANTINE_REASONS])
    src, own = F.col("src_reason"), F.col("reason")
    use_src = src.isNotNull() & (
        own.isNull() | (F.array_position(order, src) < F.array_position(order, own))
    )
    return df.withColumn(
        "detail", F.when(use_src, F.col("src_detail")).otherwise(F.col("detail"))
    ).withColumn("reason", F.when(use_src, src).otherwise(own))


def route_shared(df: DataFrame, dates: list[dt.date]) -> DataFrame:
    """An input spanning many dates: rows dated outside the run belong to another run.

    They are ``filtered`` (``outside_run_dates``), not quarantined, and each row is reported under
    its own date (rows without a valid date under the run's first date).
    """
    outside = F.col("reason").isin("timestamp_in_future", "wrong_date")
    in_run = F.col("date").isin(*dates)
    return (
        df.withColumn(
            "src_filter", F.when(outside, F.lit("outside_run_dates")).otherwise(F.col("src_filter"))
        )
        .withColumn("detail", F.when(~outside, F.col("detail")))
        .withColumn("reason", F.when(~outside, F.col("reason")))
        .withColumn("input_date", F.when(in_run, F.col("date")).otherwise(F.lit(min(dates))))
    )


def prepare(
    df: DataFrame, settings: Settings, dates: list[dt.date], shared: bool = False
) -> DataFrame:
    """Validation and dedup, as one lazily evaluated frame with a ``bucket`` per row."""
    checked = merge_source_reason(classify(with_source_defaults(df), settings.ingest, dates))
    return mark_duplicates(route_shared(checked, dates) if shared else checked)


def _write_labels(
    rows: DataFrame, user_id: Any, settings: Settings, dates: list[dt.date]
) -> dict[str, Any]:
    """Ground truth an adapter derived (``src_label``) -> the labels input, never the events."""
    path = resolve_under(settings.storage.root, settings.storage.labels_path or "")
    labels = rows.where("bucket = 'accepted' AND src_label IS NOT NULL").select(
        "event_id",
        user_id.alias("user_id"),
        F.col("src_label").alias("is_fraud"),
        F.when(F.col("src_label"), F.col("src_label_type")).alias("fraud_type"),
        "date",
    )
    write_dates(labels, path, dates, "parquet", LABELS_SCHEMA)
    stats = labels.agg(
        F.count("*").alias("rows"), F.sum(F.col("is_fraud").cast("int")).alias("positive")
    ).first()
    return {"path": path, "rows": stats["rows"], "positive": stats["positive"] or 0}


def run_ingest(spark: SparkSession, settings: Settings, ctx: RunContext) -> dict[str, Any]:
    """Ingest the run's dates; return the run summary (also the caller's to write)."""
    dates = ctx.dates
    cfg = settings.ingest
    hash_key(cfg.hash_key_env, cfg.allow_dev_hash_key)  # fail early, before any work
    drift = SchemaDrift()
    raw, paths, missing = _read(spark, settings, dates, drift)
    if drift.extra_columns or drift.missing_columns:
        log.warning("schema drift in input: %s", drift.as_dict())

    # Raw text is kept only where the quarantine needs it: a far smaller cache.
    rows = (
        prepare(raw, settings, dates, shared_input(settings))
        .withColumn("raw", F.when(F.col("bucket") == "quarantined", F.col("raw")))
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    try:
        counts = {b: 0 for b in BUCKETS}
        reasons: dict[str, int] = {}
        filters: dict[str, int] = {}
        per_date: dict[str, int] = {}
        for r in rows.groupBy("bucket", "reason", "src_filter", "date").count().collect():
            counts[r["bucket"]] += r["count"]
            if r["bucket"] == "quarantined":
                reasons[r["reason"]] = reasons.get(r["reason"], 0) + r["count"]
            elif r["bucket"] == "filtered":
                filters[r["src_filter"]] = filters.get(r["src_filter"], 0) + r["count"]
            elif r["bucket"] == "accepted":
                day = r["date"].isoformat()
                per_date[day] = per_date.get(day, 0) + r["count"]
        rows_read = rows.count()
        reconciled = rows_read == sum(counts.values())
        rate = counts["quarantined"] / rows_read if rows_read else 0.0
        summary: dict[str, Any] = {
            "status": "ok",
            "input": {d.isoformat(): p for d, p in paths.items()},
            "missing_input_dates": [d.isoformat() for d in missing],
            "input_format": cfg.input_format,
            "source": settings.source.kind,
            "input_spans_dates": shared_input(settings),
            "rows_read": rows_read,
            **counts,
            "events_written": counts["accepted"],  # one event per accepted source row
            "quarantine_reasons": dict(sorted(reasons.items())),
            "filter_reasons": dict(sorted(filters.items())),
            "quarantine_rate": round(rate, 6),
            "accepted_per_date": dict(sorted(per_date.items())),
            "reconciled": reconciled,
            "schema_drift": drift.as_dict(),
        }
        if not reconciled:
            summary["status"] = "failed"
            raise IngestError(
                f"reconciliation failed: {rows_read} read != buckets {counts}", summary
            )

        root, fmt = settings.storage.root, settings.storage.format
        quarantine_path = resolve_under(root, settings.storage.quarantine_table)
        events_path = resolve_under(root, settings.storage.events_table)
        summary["tables"] = {"events": events_path, "quarantine": quarantine_path}
        meta = [
            F.lit(ctx.run_id).alias("run_id"),
            F.lit(ctx.processed_at).cast("timestamp").alias("processed_at"),
        ]
        quarantine = rows.where("bucket = 'quarantined'").select(
            "reason",
            "detail",
            "event_id",
            scrub_raw(F.col("raw")).alias("raw"),
            "source_file",
            F.col("input_date").alias("date"),
            *meta,
        )
        write_dates(quarantine, quarantine_path, dates, fmt, QUARANTINE_SCHEMA)

        if rate > cfg.max_quarantine_rate:
            summary["status"] = "failed"
            raise QuarantineRateError(
                f"quarantine rate {rate:.2%} ({counts['quarantined']} of {rows_read} rows) "
                f"exceeds ingest.max_quarantine_rate {cfg.max_quarantine_rate:.2%}; reasons: "
                f"{reasons}. Quarantined rows are in {quarantine_path}; events were not written.",
                summary,
            )
        user_id = F.col("user_id")
        if settings.source.kind != "contract":  # adapters' keys may hold IPs or session cookies
            sensitive = F.coalesce(F.col("src_user_sensitive"), F.lit(False))
            hashed = keyed_hash(user_id, cfg.hash_key_env, cfg.allow_dev_hash_key)
            user_id = F.when(sensitive, hashed).otherwise(user_id)
        events = rows.where("bucket = 'accepted'").select(
            "event_id",
            user_id.alias("user_id"),
            "ts",
            "event_type",
            "item_id",
            "category_id",
            "query",
            "position",
            "is_sponsored",
            "price",
            keyed_hash(F.col("device_id"), cfg.hash_key_env, cfg.allow_dev_hash_key).alias(
                "device_hash"
            ),
            keyed_hash(F.col("ip"), cfg.hash_key_env, cfg.allow_dev_hash_key).alias("ip_hash"),
            "user_agent",
            "channel",
            F.col("src_attrs").alias("attrs"),
            "source_file",
            "date",
            *meta,
        )
        write_dates(events, events_path, dates, fmt, EVENTS_SCHEMA)
        if settings.storage.labels_path and provides_labels(settings.source):
            summary["labels"] = _write_labels(rows, user_id, settings, dates)
        log.info(
            "ingest %s: %d read, %d accepted, %d quarantined, %d duplicates",
            ctx.label,
            rows_read,
            counts["accepted"],
            counts["quarantined"],
            counts["duplicate"],
        )
        return summary
    finally:
        rows.unpersist()
