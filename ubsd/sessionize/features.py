"""Per-event features as Spark SQL expressions (all ids follow ``spec``: 0 pad, 1 unknown)."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from ubsd.config import SessionizeSettings
from ubsd.io.schemas import KNOWN_EVENT_TYPES


def _hash_bucket(c: Column, n: int) -> Column:
    return F.when(c.isNull(), F.lit(1)).otherwise(F.pmod(F.xxhash64(c), F.lit(n - 2)) + 2)


def _log_bucket(x: Column, n: int) -> Column:
    """2 + floor(2 * log2(1 + x)), capped: half-octave buckets, fine for seconds and prices."""
    raw = F.floor(F.log2(F.lit(1.0) + x) * 2)
    return (F.least(raw, F.lit(n - 3)) + 2).cast("int")


def event_type_id(event_type: Column) -> Column:
    """Known types get 2.., anything else 1 (the model builds its own vocabulary on top)."""
    pos = F.array_position(F.array(*[F.lit(t) for t in KNOWN_EVENT_TYPES]), event_type)
    return F.when(pos == 0, F.lit(1)).otherwise(pos + 1).cast("int")


def event_features(
    cfg: SessionizeSettings,
    dt_seconds: Column,
    session_start: Column,
    prev_device: Column,
    prev_ip: Column,
) -> dict[str, Column]:
    """Integer feature columns of one event, given its inter-event gap and change context."""
    price = F.col("price")
    position = F.col("position")
    return {
        "event_type_ids": event_type_id(F.col("event_type")),
        "dt_buckets": F.when(session_start, F.lit(1)).otherwise(
            _log_bucket(F.greatest(dt_seconds, F.lit(0.0)), cfg.dt_buckets)
        ),
        "item_buckets": _hash_bucket(F.col("item_id"), cfg.item_buckets).cast("int"),
        "category_buckets": _hash_bucket(F.col("category_id"), cfg.category_buckets).cast("int"),
        "position_buckets": F.when(position.isNull(), F.lit(1))
        .otherwise(F.least(position, F.lit(cfg.position_buckets - 3)) + 2)
        .cast("int"),
        "sponsored_flags": F.when(F.col("is_sponsored").isNull(), F.lit(1))
        .when(F.col("is_sponsored"), F.lit(3))
        .otherwise(F.lit(2)),
        "price_buckets": F.when(price.isNull(), F.lit(1)).otherwise(
            _log_bucket(price, cfg.price_buckets)
        ),
        "hours": (F.hour("ts") + 1).cast("int"),
        "device_change_flags": F.when(
            F.col("device_hash").isNotNull()
            & prev_device.isNotNull()
            & (F.col("device_hash") != prev_device),
            F.lit(2),
        ).otherwise(F.lit(1)),
        "ip_change_flags": F.when(
            F.col("ip_hash").isNotNull() & prev_ip.isNotNull() & (F.col("ip_hash") != prev_ip),
            F.lit(2),
        ).otherwise(F.lit(1)),
    }
