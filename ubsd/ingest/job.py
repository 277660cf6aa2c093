"""The ingest run: read the run's input, validate, dedupe, write events and quarantine, reconcile.

Reconciliation: every row read lands in exactly one bucket (accepted, quarantined, duplicate,
filtered); the run checks ``rows_read == sum(buckets)`` and fails if not.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ubsd.config import Settings
from ubsd.ingest.dedupe import mark_duplicates
from ubsd.ingest.hashing import hash_key, keyed_hash
from ubsd.ingest.readers import SchemaDrift, empty_raw, path_exists, read_raw
from ubsd.ingest.validate import classify
from ubsd.io.paths import resolve_under
from ubsd.io.schemas import EVENTS_SCHEMA, QUARANTINE_SCHEMA
from ubsd.io.tables import write_dates
from ubsd.runs import RunContext

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


def input_paths(settings: Settings, dates: list[dt.date]) -> dict[dt.date, str]:
    root, pattern = settings.storage.root, settings.storage.input_path
    return {d: resolve_under(root, pattern.replace("{date}", d.isoformat())) for d in dates}


def _read(spark: SparkSession, settings: Settings, dates: list[dt.date], drift: SchemaDrift):
    paths = input_paths(settings, dates)
    present = {d: p for d, p in paths.items() if path_exists(spark, p)}
    missing = sorted(set(paths) - set(present))
    if missing and settings.ingest.missing_input == "fail":
        raise IngestError(
            "no input for "
            + ", ".join(f"{d} ({paths[d]})" for d in missing)
            + "; set ingest.missing_input: empty to write an empty day instead"
        )
    for d in missing:
        log.warning("no input for %s at %s: writing an empty day", d, paths[d])
    df = read_raw(spark, present, settings.ingest.input_format, drift) if present else None
    return (df if df is not None else empty_raw(spark)), paths, missing


def prepare(df: DataFrame, settings: Settings, dates: list[dt.date]) -> DataFrame:
    """Validation and dedup, as one lazily evaluated frame with a ``bucket`` per row."""
    return mark_duplicates(classify(df, settings.ingest, dates))


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
        prepare(raw, settings, dates)
        .withColumn("raw", F.when(F.col("bucket") == "quarantined", F.col("raw")))
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    try:
        counts = {b: 0 for b in BUCKETS}
        reasons: dict[str, int] = {}
        per_date: dict[str, int] = {}
        for r in rows.groupBy("bucket", "reason", "date").count().collect():
            counts[r["bucket"]] += r["count"]
            if r["bucket"] == "quarantined":
                reasons[r["reason"]] = reasons.get(r["reason"], 0) + r["count"]
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
            "rows_read": rows_read,
            **counts,
            "quarantine_reasons": dict(sorted(reasons.items())),
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
        events = rows.where("bucket = 'accepted'").select(
            "event_id",
            "user_id",
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
            "source_file",
            "date",
            *meta,
        )
        write_dates(events, events_path, dates, fmt, EVENTS_SCHEMA)
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
