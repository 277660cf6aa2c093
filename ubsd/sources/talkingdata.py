"""TalkingData AdTracking clicks -> ``ad_click`` events; ``is_attributed`` -> labels only.

Columns: ip, app, device, os, channel, click_time, attributed_time, is_attributed (CSV, header;
the public sample's header carries a stray ``..`` prefix, tolerated). One click is one event:

- ``user_id``: the values of ``source.talkingdata_user_key`` (default ip, device, os), joined by
  ``|``; stored as a keyed hash when it contains the ip.
- ``item_id`` = app (the advertised app), ``category_id`` and ``channel`` = the publisher channel,
  ``device_id`` = ``device/os`` (hashed by ingest), ``ip`` = ip (hashed by ingest).
- ``is_attributed`` (the download) and ``attributed_time`` never reach an event column: the
  attribution is the evaluation target, so it goes to the labels input only (``src_label``).
"""

from __future__ import annotations

import operator
from functools import reduce

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from ubsd.config import SourceSettings
from ubsd.sources.frame import content_id, contract_frame, first_check, read_lines, split_fields

COLUMNS = (
    "ip",
    "app",
    "device",
    "os",
    "channel",
    "click_time",
    "attributed_time",
    "is_attributed",
)
_HEADER = r"(?i)^\W*" + ",".join(COLUMNS) + r"\s*$"
_INT_COLUMNS = ("ip", "app", "device", "os", "channel")
_TIME = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"


def _utc(c: Column) -> Column:
    """``2017-11-07 09:30:38`` (UTC per the source) -> ISO with ``Z``; anything else as it is."""
    return F.when(c.rlike(_TIME), F.concat(F.regexp_replace(c, " ", "T"), F.lit("Z"))).otherwise(c)


def read(spark: SparkSession, path: str, cfg: SourceSettings) -> DataFrame:
    lines = read_lines(spark, path, _HEADER)
    corrupt, fields = split_fields(F.col("raw"), ",", COLUMNS)
    df = lines.select("raw", "source_file", corrupt.alias("corrupt"), *fields)
    c = {n: F.col(n) for n in COLUMNS}

    key_parts = [c[k] for k in cfg.talkingdata_user_key]
    user_id = F.when(
        ~reduce(operator.or_, [p.isNull() for p in key_parts]), F.concat_ws("|", *key_parts)
    )
    attributed = c["is_attributed"]
    attributed_time = c["attributed_time"]
    checks = [
        *[
            (
                "invalid_value",
                c[n].isNotNull() & ~c[n].rlike(r"^\d+$"),
                F.concat(F.lit(f"{n}="), c[n]),
            )
            for n in _INT_COLUMNS
        ],
        (
            "invalid_value",
            attributed.isNull() | ~attributed.isin("0", "1"),
            F.concat(F.lit("is_attributed="), F.coalesce(attributed, F.lit("<empty>"))),
        ),
        (
            "invalid_value",
            attributed_time.isNotNull() & F.try_to_timestamp(_utc(attributed_time)).isNull(),
            F.concat(F.lit("attributed_time="), attributed_time),
        ),
        (
            "invalid_value",
            (attributed == "1") != attributed_time.isNotNull(),
            F.concat(
                F.lit("is_attributed="),
                attributed,
                F.lit(" but attributed_time="),
                F.coalesce(attributed_time, F.lit("<empty>")),
            ),
        ),
    ]
    reason, detail = first_check(checks)
    positive = "1" if cfg.talkingdata_label == "attributed" else "0"
    return contract_frame(
        df,
        {
            "event_id": content_id("td", F.col("raw")),
            "user_id": user_id,
            "ts": _utc(c["click_time"]),
            "event_type": F.lit("ad_click"),
            "item_id": c["app"],
            "category_id": c["channel"],
            "channel": c["channel"],
            "device_id": F.concat_ws("/", c["device"], c["os"]),
            "ip": c["ip"],
        },
        {
            "src_reason": reason,
            "src_detail": detail,
            "src_user_sensitive": F.lit("ip" in cfg.talkingdata_user_key),
            "src_label": F.when(attributed.isin("0", "1"), attributed == positive),
            "src_label_type": F.lit(cfg.talkingdata_label),
        },
    )
