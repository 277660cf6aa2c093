"""DIGINETICA (CIKM Cup 2016) item views -> ``view`` events.

``;``-separated with a header: session_id, user_id (``NA`` for anonymous sessions), item_id,
timeframe (milliseconds into the session, per the CIKM Cup description), eventdate (UTC date).

- ``user_id``: ``u:<user_id>``; anonymous sessions keep their session as the user key,
  ``s:<session_id>`` (the prefixes keep the two id spaces apart).
- ``ts``: eventdate midnight UTC + timeframe ms. The source gives no clock time, so only the order
  and spacing of views within a session are real; sessionize sees them as such.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ubsd.config import SourceSettings
from ubsd.sources.frame import (
    content_id,
    contract_frame,
    epoch_text,
    first_check,
    read_lines,
    split_fields,
)

COLUMNS = ("session_id", "user_id", "item_id", "timeframe", "eventdate")
_HEADER = r"(?i)^\W*" + ";".join(COLUMNS) + r"\s*$"
_ANONYMOUS = ("na", "null", "-")


def read(spark: SparkSession, path: str, cfg: SourceSettings) -> DataFrame:
    del cfg  # no options
    corrupt, fields = split_fields(F.col("raw"), ";", COLUMNS)
    df = read_lines(spark, path, _HEADER).select(
        "raw", "source_file", corrupt.alias("corrupt"), *fields
    )
    session, user = F.col("session_id"), F.col("user_id")
    frame, day = F.col("timeframe"), F.col("eventdate")
    anonymous = user.isNull() | F.lower(user).isin(*_ANONYMOUS)
    user_key = F.when(anonymous & session.isNotNull(), F.concat(F.lit("s:"), session)).when(
        ~anonymous, F.concat(F.lit("u:"), user)
    )
    midnight = F.when(
        day.rlike(r"^\d{4}-\d{2}-\d{2}$"), F.try_to_timestamp(day, F.lit("yyyy-MM-dd"))
    )
    frame_ok = frame.rlike(r"^\d{1,12}$")
    ts = F.when(
        midnight.isNotNull() & frame_ok,
        epoch_text(F.timestamp_micros(F.unix_micros(midnight) + frame.cast("long") * 1000)),
    ).otherwise(F.concat_ws(" ", day, frame))
    reason, detail = first_check(
        [
            ("missing_required_field", F.col("item_id").isNull(), F.lit("item_id")),
            (
                "unparseable_timestamp",
                day.isNotNull() & frame.isNotNull() & (midnight.isNull() | ~frame_ok),
                F.concat(F.lit("eventdate="), day, F.lit(" timeframe="), frame),
            ),
        ]
    )
    return contract_frame(
        df,
        {
            "event_id": content_id("dg", F.col("raw")),
            "user_id": user_key,
            "ts": F.when(day.isNotNull() & frame.isNotNull(), ts),
            "event_type": F.lit("view"),
            "item_id": F.col("item_id"),
        },
        {"src_reason": reason, "src_detail": detail},
    )
