"""Validation and normalization: each raw row gets typed values, or exactly one quarantine reason.

Reasons are checked in the order of ``QUARANTINE_REASONS``; the first that applies wins, so a
row's reason is deterministic. Everything here is Spark SQL (no Python UDFs): it runs in the JVM.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from ubsd.config import IngestSettings
from ubsd.io.schemas import KNOWN_EVENT_TYPES, REQUIRED_FIELDS

_TEXT_FIELDS = (
    "event_id",
    "user_id",
    "event_type",
    "item_id",
    "category_id",
    "query",
    "device_id",
    "ip",
    "user_agent",
    "channel",
    "ts",
)
_TRUE = ("true", "1", "yes", "y", "t")
_FALSE = ("false", "0", "no", "n", "f")
_ZONE = r"(Z|z|[+-]\d{2}(:?\d{2})?)$"
_EXTRA_TS_FORMATS = ("yyyy/MM/dd HH:mm:ss", "yyyy-MM-dd HH:mm:ss.SSS", "dd/MM/yyyy HH:mm:ss")


def _blank_to_null(c: Column) -> Column:
    t = F.trim(c)
    return F.when(t == "", None).otherwise(t)


def _clean_text(c: Column) -> Column:
    """Strip control characters and collapse whitespace; emoji and any script are kept."""
    no_ctrl = F.regexp_replace(c, r"\p{Cc}", " ")  # C0, DEL and C1 controls
    return _blank_to_null(F.regexp_replace(no_ctrl, r"\s+", " "))


def _unquote(c: Column) -> Column:
    """Numbers sometimes arrive as JSON strings or bare tokens (``"12.5"``, ``NaN``)."""
    return F.regexp_replace(F.trim(c), r'^"(.*)"$', "$1")


def parse_timestamp(ts: Column, naive: str) -> Column:
    """ISO-8601 with a zone, naive ISO (UTC or rejected), a few common formats, epoch s or ms."""
    s = F.trim(ts)
    is_epoch = s.rlike(r"^-?\d{9,13}(\.\d+)?$")
    num = s.try_cast("double")
    epoch = F.when(F.abs(num) >= 1e11, num / 1000.0).otherwise(num)
    from_epoch = F.timestamp_seconds(epoch.cast("decimal(20,6)"))
    iso = F.try_to_timestamp(s)
    others = F.coalesce(*[F.try_to_timestamp(s, F.lit(fmt)) for fmt in _EXTRA_TS_FORMATS])
    has_zone = s.rlike(_ZONE)
    parsed_naive = F.coalesce(iso, others) if naive == "utc" else F.lit(None).cast("timestamp")
    return F.when(is_epoch, from_epoch).when(has_zone, iso).otherwise(parsed_naive)


def _first_reason(checks: Sequence[tuple[str, Column, Column]]) -> tuple[Column, Column]:
    reason: Column = F.lit(None).cast("string")
    detail: Column = F.lit(None).cast("string")
    for code, cond, why in reversed(checks):
        reason = F.when(cond, F.lit(code)).otherwise(reason)
        detail = F.when(cond, why).otherwise(detail)
    return reason, detail


def classify(df: DataFrame, cfg: IngestSettings, dates: Sequence[dt.date]) -> DataFrame:
    """Add normalized typed columns plus ``reason``/``detail`` (null reason = valid row).

    Built in three projections (parse, then flag, then pick the reason) so that each generated
    method stays small: one giant CASE over re-parsed values falls out of whole-stage codegen.
    """
    last = max(dates)
    horizon = dt.datetime.combine(last + dt.timedelta(days=1), dt.time()) + dt.timedelta(
        hours=cfg.future_skew_hours
    )
    min_ts = dt.datetime.fromisoformat(cfg.min_timestamp)
    date_strs = [d.isoformat() for d in dates]
    # Source adapters' own columns (src_*, see ubsd/sources/frame.py) travel through untouched.
    carried = [c for c in df.columns if c.startswith("src_")]
    passthrough = ["raw", "source_file", "input_date", "row_order", "corrupt", *carried]

    # 1. parse: typed and normalized values next to the raw text
    longest = F.greatest(
        *[
            F.coalesce(F.length(F.col(f)), F.lit(0))
            for f in (*_TEXT_FIELDS, "position", "is_sponsored", "price")
        ]
    )
    too_long = [
        F.when(F.length(F.col(f)) > cfg.max_field_chars, F.lit(f))
        for f in (*_TEXT_FIELDS, "position", "is_sponsored", "price")
    ]
    parsed = df.select(
        *[_blank_to_null(F.col(f)).alias(f"n_{f}") for f in _TEXT_FIELDS],
        parse_timestamp(F.col("ts"), cfg.naive_timestamps).alias("p_ts"),
        _unquote(F.col("position")).try_cast("double").alias("p_position"),
        F.lower(_unquote(F.col("is_sponsored"))).alias("p_sponsored"),
        _unquote(F.col("price")).try_cast("double").alias("p_price"),
        F.col("ts").alias("raw_ts"),
        _blank_to_null(F.col("position")).alias("raw_position"),  # empty counts as absent
        _blank_to_null(F.col("is_sponsored")).alias("raw_sponsored"),
        _blank_to_null(F.col("price")).alias("raw_price"),
        F.when(
            longest > cfg.max_field_chars, F.array_join(F.array_compact(F.array(*too_long)), ",")
        ).alias("long_fields"),
        *passthrough,
    )

    # 2. flag: one boolean (and a detail) per check
    ts = F.col("p_ts")
    pos, price = F.col("p_position"), F.col("p_price")
    event_type = F.regexp_replace(F.lower(F.col("n_event_type")), r"\s+", "_")
    missing = F.array_join(
        F.array_compact(
            F.array(*[F.when(F.col(f"n_{f}").isNull(), F.lit(f)) for f in REQUIRED_FIELDS])
        ),
        ",",
    )
    bad_position = F.col("raw_position").isNotNull() & (
        pos.isNull() | F.isnan(pos) | (pos < 0) | (pos != F.floor(pos)) | (pos > 2_147_483_647)
    )
    bad_sponsored = F.col("raw_sponsored").isNotNull() & ~F.col("p_sponsored").isin(*_TRUE, *_FALSE)
    bad_price_type = F.col("raw_price").isNotNull() & price.isNull()
    bad_price = price.isNotNull() & (
        F.isnan(price) | (price < 0) | (price == float("inf")) | (price == float("-inf"))
    )
    flagged = parsed.select(
        "*",
        event_type.alias("p_event_type"),
        F.to_date(ts).alias("p_date"),
        F.when(missing != "", missing).alias("missing_fields"),
        bad_position.alias("bad_position"),
        bad_sponsored.alias("bad_sponsored"),
        bad_price_type.alias("bad_price_type"),
        bad_price.alias("bad_price"),
    )

    # 3. reason: the first check that applies, in QUARANTINE_REASONS order
    ts_detail = F.concat(F.lit("ts="), F.col("raw_ts"))
    checks: list[tuple[str, Column, Column]] = [
        ("malformed_record", F.col("corrupt"), F.lit("not a record of the input format")),
        ("missing_required_field", F.col("missing_fields").isNotNull(), F.col("missing_fields")),
        (
            "oversized_field",
            F.col("long_fields").isNotNull(),
            F.concat(F.col("long_fields"), F.lit(f" longer than {cfg.max_field_chars} chars")),
        ),
        ("unparseable_timestamp", ts.isNull(), ts_detail),
        ("timestamp_out_of_range", ts < F.lit(min_ts), ts_detail),
        ("timestamp_in_future", ts >= F.lit(horizon), ts_detail),
        (
            "wrong_date",
            ~F.col("p_date").cast("string").isin(*date_strs),
            F.concat(F.lit("date="), F.col("p_date").cast("string")),
        ),
        (
            "invalid_value",
            F.col("bad_position"),
            F.concat(F.lit("position="), F.col("raw_position")),
        ),
        (
            "invalid_value",
            F.col("bad_sponsored"),
            F.concat(F.lit("is_sponsored="), F.col("raw_sponsored")),
        ),
        ("invalid_value", F.col("bad_price_type"), F.concat(F.lit("price="), F.col("raw_price"))),
        ("invalid_price", F.col("bad_price"), F.concat(F.lit("price="), F.col("raw_price"))),
    ]
    if not cfg.allow_unknown_event_types:
        checks.append(
            (
                "unknown_event_type",
                ~F.col("p_event_type").isin(*KNOWN_EVENT_TYPES),
                F.concat(F.lit("event_type="), F.col("p_event_type")),
            )
        )
    reason, detail = _first_reason(checks)
    sponsored = F.col("p_sponsored")
    return flagged.select(
        F.col("n_event_id").alias("event_id"),
        F.col("n_user_id").alias("user_id"),
        ts.alias("ts"),
        F.col("p_event_type").alias("event_type"),
        F.col("n_item_id").alias("item_id"),
        F.col("n_category_id").alias("category_id"),
        F.lower(_clean_text(F.col("n_query"))).alias("query"),
        pos.try_cast("int").alias("position"),
        F.when(sponsored.isin(*_TRUE), True)
        .when(sponsored.isin(*_FALSE), False)
        .alias("is_sponsored"),
        price.alias("price"),
        F.col("n_device_id").alias("device_id"),
        F.col("n_ip").alias("ip"),
        _clean_text(F.col("n_user_agent")).alias("user_agent"),
        F.lower(F.col("n_channel")).alias("channel"),
        F.col("p_date").alias("date"),
        "raw",
        "source_file",
        "input_date",
        "row_order",
        *carried,
        reason.alias("reason"),
        detail.alias("detail"),
    )


_CONTENT = (
    "user_id",
    "ts",
    "event_type",
    "item_id",
    "category_id",
    "query",
    "position",
    "is_sponsored",
    "price",
    "device_id",
    "ip",
    "user_agent",
    "channel",
)


def content_hash() -> Column:
    """Hash of a row's normalized content (not its event_id): equal content = duplicate."""
    return F.sha2(F.to_json(F.struct(*[F.col(c) for c in _CONTENT])), 256)
