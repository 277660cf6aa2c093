"""Taobao UserBehavior (Alibaba Tianchi) -> view / favorite / add_to_cart / purchase events.

Headerless CSV: user_id, item_id, category_id, behavior_type (pv, fav, cart, buy), timestamp
(unix seconds, UTC). One row is one event; the four behavior types are the whole vocabulary of
the format, so any other value is quarantined (``invalid_value``).
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ubsd.config import SourceSettings
from ubsd.sources.frame import content_id, contract_frame, first_check, read_lines, split_fields

COLUMNS = ("user_id", "item_id", "category_id", "behavior_type", "timestamp")

#: behavior_type -> event type ("favorite" is outside the contract's list: open vocabulary).
EVENT_TYPES: dict[str, str] = {
    "pv": "view",
    "fav": "favorite",
    "cart": "add_to_cart",
    "buy": "purchase",
}


def read(spark: SparkSession, path: str, cfg: SourceSettings) -> DataFrame:
    del cfg  # no options
    corrupt, fields = split_fields(F.col("raw"), ",", COLUMNS)
    df = read_lines(spark, path).select("raw", "source_file", corrupt.alias("corrupt"), *fields)
    behavior = F.lower(F.col("behavior_type"))
    mapping = F.create_map(*[F.lit(x) for kv in EVENT_TYPES.items() for x in kv])
    ts = F.col("timestamp")
    reason, detail = first_check(
        [
            (
                "unparseable_timestamp",
                ts.isNotNull() & ~ts.rlike(r"^\d{1,11}$"),
                F.concat(F.lit("timestamp="), ts, F.lit(" (unix seconds expected)")),
            ),
            (
                "invalid_value",
                behavior.isNotNull() & ~behavior.isin(*EVENT_TYPES),
                F.concat(F.lit("behavior_type="), F.col("behavior_type")),
            ),
        ]
    )
    return contract_frame(
        df,
        {
            "event_id": content_id("tb", F.col("raw")),
            "user_id": F.col("user_id"),
            "ts": ts,
            "event_type": F.coalesce(F.try_element_at(mapping, behavior), behavior),
            "item_id": F.col("item_id"),
            "category_id": F.col("category_id"),
        },
        {"src_reason": reason, "src_detail": detail},
    )
