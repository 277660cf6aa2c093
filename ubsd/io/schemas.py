"""Every table's schema, defined once and imported wherever the table is read or written.

Run-metadata columns (``RUN_METADATA_COLUMNS``) are the only ones allowed to differ between two
runs of the same date; reruns are compared on every other column.
"""

from __future__ import annotations

from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DateType,
    DoubleType,
    IntegerType,
    MapType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

#: Columns that describe the run rather than the data; excluded from rerun comparisons.
RUN_METADATA_COLUMNS: tuple[str, ...] = ("run_id", "processed_at", "scored_at")

#: Event types the contract knows. The vocabulary is open: data may bring others, and the model
#: builds its own vocabulary from training data.
KNOWN_EVENT_TYPES: tuple[str, ...] = (
    "search",
    "impression",
    "view",
    "click",
    "ad_click",
    "add_to_cart",
    "remove_from_cart",
    "purchase",
)

#: Fields a raw event must carry (non-empty) to be accepted.
REQUIRED_FIELDS: tuple[str, ...] = ("event_id", "user_id", "ts", "event_type")

#: Quarantine reason codes (the ``reason`` column). Ingest assigns exactly one per bad row, the
#: first that applies in this order; the generator's malformed-row injection uses the same codes.
QUARANTINE_REASONS: tuple[str, ...] = (
    "malformed_record",  # not parseable as a record of the input format (bad JSON, truncated line)
    "missing_required_field",  # event_id, user_id, ts or event_type absent or empty
    "oversized_field",  # a text field longer than ingest.max_field_chars
    "unparseable_timestamp",
    "timestamp_out_of_range",  # before ingest.min_timestamp (2000-01-01)
    "timestamp_in_future",  # after the run's last date + ingest.future_skew_hours
    "wrong_date",  # a valid timestamp outside the run's dates
    "invalid_value",  # a field of the wrong type (position "abc", is_sponsored "maybe")
    "invalid_price",  # negative, NaN or infinite price
    "unknown_event_type",  # only when ingest.allow_unknown_event_types is false
    "conflicting_duplicate",  # same event_id as an earlier row, different content
)

#: Filter reasons: a valid source row that yields no event lands in the ``filtered`` bucket with
#: one of these (source adapters, see docs/sources.md).
FILTER_REASONS: tuple[str, ...] = (
    "outside_run_dates",  # an input spanning many dates: the row belongs to another run's date
    "static_asset",  # web logs: a static asset request, folded (source.weblog_static: fold)
    "unmapped_event_type",  # mapped sources: event type not in the mapping (unmapped: filter)
)

# --- raw input contract -------------------------------------------------------------------
#: The raw event contract as producers write it (JSON lines, CSV, Parquet). Ingest reads every
#: field as text first so that a wrong type becomes a quarantine reason, not a lost row.
RAW_EVENT_SCHEMA = StructType(
    [
        StructField("event_id", StringType(), False),
        StructField("user_id", StringType(), False),
        StructField("ts", StringType(), False),  # ISO-8601 with zone (naive = UTC) or epoch s/ms
        StructField("event_type", StringType(), False),
        StructField("item_id", StringType(), True),
        StructField("category_id", StringType(), True),
        StructField("query", StringType(), True),
        StructField("position", IntegerType(), True),
        StructField("is_sponsored", BooleanType(), True),
        StructField("price", DoubleType(), True),
        StructField("device_id", StringType(), True),
        StructField("ip", StringType(), True),
        StructField("user_agent", StringType(), True),
        StructField("channel", StringType(), True),
    ]
)
RAW_FIELDS: tuple[str, ...] = tuple(f.name for f in RAW_EVENT_SCHEMA.fields)

#: The same fields, all as text: how ingest parses every input format before validation.
RAW_TEXT_SCHEMA = StructType([StructField(n, StringType(), True) for n in RAW_FIELDS])

# --- events (output of ingest) ------------------------------------------------------------
EVENTS_SCHEMA = StructType(
    [
        StructField("event_id", StringType(), False),
        StructField("user_id", StringType(), False),
        StructField("ts", TimestampType(), False),
        StructField("event_type", StringType(), False),
        StructField("item_id", StringType(), True),
        StructField("category_id", StringType(), True),
        StructField("query", StringType(), True),
        StructField("position", IntegerType(), True),
        StructField("is_sponsored", BooleanType(), True),
        StructField("price", DoubleType(), True),
        StructField("device_hash", StringType(), True),  # keyed hash of device_id
        StructField("ip_hash", StringType(), True),  # keyed hash of ip; raw IPs never leave ingest
        StructField("user_agent", StringType(), True),
        StructField("channel", StringType(), True),
        # Fields a source adapter keeps that the contract has no column for (web logs:
        # http_status, bytes, referrer); null for the contract's own inputs.
        StructField("attrs", MapType(StringType(), StringType()), True),
        StructField("source_file", StringType(), True),
        StructField("date", DateType(), False),
        StructField("run_id", StringType(), False),
        StructField("processed_at", TimestampType(), False),
    ]
)

# --- quarantine (bad rows, with reason) ---------------------------------------------------
QUARANTINE_SCHEMA = StructType(
    [
        StructField("reason", StringType(), False),
        StructField("detail", StringType(), True),
        StructField("event_id", StringType(), True),
        StructField("raw", StringType(), True),
        StructField("source_file", StringType(), True),
        StructField("date", DateType(), False),  # the run date whose input held the row
        StructField("run_id", StringType(), False),
        StructField("processed_at", TimestampType(), False),
    ]
)

# --- ground-truth labels (per event) ------------------------------------------------------
LABELS_SCHEMA = StructType(
    [
        StructField("event_id", StringType(), False),
        StructField("user_id", StringType(), False),
        StructField("is_fraud", BooleanType(), False),
        StructField("fraud_type", StringType(), True),
        StructField("date", DateType(), False),
    ]
)

# --- windows (output of sessionize) -------------------------------------------------------
_INT_ARRAY = ArrayType(IntegerType(), False)

#: Per-event integer feature arrays in a window, each padded to the window length with 0.
WINDOW_FEATURE_ARRAYS: tuple[str, ...] = (
    "event_type_ids",
    "dt_buckets",
    "item_buckets",
    "category_buckets",
    "position_buckets",
    "sponsored_flags",
    "price_buckets",
    "hours",
    "device_change_flags",
    "ip_change_flags",
)

WINDOWS_SCHEMA = StructType(
    [
        StructField("window_id", StringType(), False),
        StructField("user_id", StringType(), False),
        StructField("session_id", StringType(), False),
        StructField("window_index", IntegerType(), False),
        StructField("start_ts", TimestampType(), False),
        StructField("end_ts", TimestampType(), False),
        StructField("n_events", IntegerType(), False),
        StructField("event_ids", ArrayType(StringType(), True), False),
        StructField("event_types", ArrayType(StringType(), True), False),
        StructField("item_ids", ArrayType(StringType(), True), False),
        StructField("dt_seconds", ArrayType(DoubleType(), False), False),
        *[StructField(name, _INT_ARRAY, False) for name in WINDOW_FEATURE_ARRAYS],
        StructField("mask", _INT_ARRAY, False),
        StructField("label", IntegerType(), True),  # 1 if any event is fraud; null without labels
        StructField("fraud_type", StringType(), True),
        StructField("feature_version", StringType(), False),
        StructField("date", DateType(), False),  # UTC date of the window's first event
        StructField("run_id", StringType(), False),
        StructField("processed_at", TimestampType(), False),
    ]
)

#: Columns of the windows table that may feed a model; labels and ids never do.
WINDOW_MODEL_INPUTS: tuple[str, ...] = (*WINDOW_FEATURE_ARRAYS, "mask")

# --- scoring outputs (nightly) ------------------------------------------------------------
#: One explained event of a flagged window: which event, what it was, how much it drove the score.
REASON_STRUCT = StructType(
    [
        StructField("event_index", IntegerType(), False),
        StructField("event_type", StringType(), True),
        StructField("item_id", StringType(), True),
        StructField("contribution", DoubleType(), False),
    ]
)

#: The fraud labels table (output of scoring): one row per scored window and date.
FRAUD_LABELS_SCHEMA = StructType(
    [
        StructField("user_id", StringType(), False),
        StructField("window_id", StringType(), False),
        StructField("session_id", StringType(), False),
        StructField("start_ts", TimestampType(), False),
        StructField("end_ts", TimestampType(), False),
        StructField("n_events", IntegerType(), False),
        StructField("fraud_probability", DoubleType(), True),  # null: no fine-tuned classifier
        StructField("zero_label_score", DoubleType(), True),
        StructField("is_fraud", BooleanType(), False),
        StructField("threshold", DoubleType(), False),
        StructField("alert_source", StringType(), False),  # probability | zero_label
        StructField("model_name", StringType(), False),
        StructField("model_version", StringType(), False),
        StructField("feature_version", StringType(), False),
        StructField("reasons", ArrayType(REASON_STRUCT, False), True),  # flagged windows only
        StructField("reason_text", StringType(), True),
        StructField("date", DateType(), False),
        StructField("run_id", StringType(), False),
        StructField("scored_at", TimestampType(), False),
    ]
)

#: Per-user daily rollup of the fraud labels.
USER_DAILY_SCHEMA = StructType(
    [
        StructField("user_id", StringType(), False),
        StructField("windows", IntegerType(), False),
        StructField("flagged_windows", IntegerType(), False),
        StructField("max_probability", DoubleType(), True),
        StructField("max_zero_label_score", DoubleType(), True),
        StructField("top_reason", StringType(), True),
        StructField("model_version", StringType(), False),
        StructField("date", DateType(), False),
        StructField("run_id", StringType(), False),
        StructField("scored_at", TimestampType(), False),
    ]
)

#: Daily monitoring metrics (output of the monitor job): one row per metric and date.
MONITOR_METRICS_SCHEMA = StructType(
    [
        StructField("metric", StringType(), False),
        StructField("value", DoubleType(), True),
        StructField("reference", DoubleType(), True),
        StructField("alert_threshold", DoubleType(), True),
        StructField("breached", BooleanType(), False),
        StructField("detail", StringType(), True),
        StructField("date", DateType(), False),
        StructField("run_id", StringType(), False),
        StructField("processed_at", TimestampType(), False),
    ]
)

__all__ = [
    "EVENTS_SCHEMA",
    "FILTER_REASONS",
    "FRAUD_LABELS_SCHEMA",
    "KNOWN_EVENT_TYPES",
    "LABELS_SCHEMA",
    "MONITOR_METRICS_SCHEMA",
    "QUARANTINE_REASONS",
    "QUARANTINE_SCHEMA",
    "RAW_EVENT_SCHEMA",
    "RAW_FIELDS",
    "RAW_TEXT_SCHEMA",
    "REASON_STRUCT",
    "REQUIRED_FIELDS",
    "RUN_METADATA_COLUMNS",
    "USER_DAILY_SCHEMA",
    "WINDOWS_SCHEMA",
    "WINDOW_FEATURE_ARRAYS",
    "WINDOW_MODEL_INPUTS",
]
