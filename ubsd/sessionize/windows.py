"""Fixed-length sliding windows over sessions, without ever building a whole session's array.

Event ``pos`` belongs to windows ``k`` with ``k*S <= pos < k*S + L``; each event is exploded
into those (at most ceil(L/S)) window keys and grouped by (session_id, k), so no group holds more
than L events however long the session is. Window k >= 1 is kept only if it covers an event that
window k-1 does not (so a session of exactly L events has exactly one window).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from ubsd.io.schemas import WINDOW_FEATURE_ARRAYS


def window_keys(pos: Column, length: int, stride: int) -> Column:
    """Array of the window indices that contain the event at ``pos``."""
    k_max = F.floor(pos / stride)
    k_min = F.greatest(F.lit(0), F.floor((pos - length) / stride) + 1)
    return F.sequence(k_min.cast("int"), k_max.cast("int"))


def _field(name: str, dtype: str):
    return lambda x: x[name].cast(dtype)


def _pad(arr: Column, length: int, fill: Column) -> Column:
    return F.concat(arr, F.array_repeat(fill, F.lit(length) - F.size(arr)))


def build_windows(events: DataFrame, length: int, stride: int, with_labels: bool) -> DataFrame:
    """Group sessionized events into padded windows with a mask and a deterministic window_id."""
    fields = [
        "pos",
        "event_id",
        "event_type",
        "item_id",
        "ts",
        "dt_seconds",
        *WINDOW_FEATURE_ARRAYS,
    ]
    if with_labels:
        fields += ["is_fraud", "fraud_type"]
    exploded = events.select(
        "user_id",
        "session_id",
        F.explode(window_keys(F.col("pos"), length, stride)).alias("window_index"),
        F.struct(*fields).alias("e"),
    )
    aggs = [F.sort_array(F.collect_list("e")).alias("ev"), F.max("e.pos").alias("_max_pos")]
    grouped = exploded.groupBy("user_id", "session_id", "window_index").agg(*aggs)
    # Drop windows that add nothing beyond the previous one (session ended inside window k-1).
    keep = (F.col("window_index") == 0) | (
        F.col("_max_pos") >= (F.col("window_index") - 1) * stride + length
    )
    grouped = grouped.where(keep)

    ev = F.col("ev")
    n = F.size(ev)
    cols: dict[str, Column] = {
        "window_id": F.substring(
            F.sha2(
                F.concat_ws("|", F.col("session_id"), F.col("window_index").cast("string")), 256
            ),
            1,
            32,
        ),
        "user_id": F.col("user_id"),
        "session_id": F.col("session_id"),
        "window_index": F.col("window_index").cast("int"),
        "start_ts": F.element_at(ev, 1)["ts"],
        "end_ts": F.element_at(ev, -1)["ts"],
        "n_events": n.cast("int"),
        "event_ids": _pad(
            F.transform(ev, lambda x: x["event_id"]), length, F.lit(None).cast("string")
        ),
        "event_types": _pad(
            F.transform(ev, lambda x: x["event_type"]), length, F.lit(None).cast("string")
        ),
        "item_ids": _pad(
            F.transform(ev, lambda x: x["item_id"]), length, F.lit(None).cast("string")
        ),
        "dt_seconds": _pad(
            F.transform(ev, lambda x: x["dt_seconds"].cast("double")), length, F.lit(0.0)
        ),
    }
    for name in WINDOW_FEATURE_ARRAYS:
        cols[name] = _pad(F.transform(ev, _field(name, "int")), length, F.lit(0))
    cols["mask"] = _pad(F.transform(ev, lambda x: F.lit(1)), length, F.lit(0))
    if with_labels:
        fraud = F.filter(ev, lambda x: F.coalesce(x["is_fraud"], F.lit(False)))
        cols["label"] = F.when(F.size(fraud) > 0, F.lit(1)).otherwise(F.lit(0))
        cols["fraud_type"] = F.array_min(F.transform(fraud, lambda x: x["fraud_type"]))
    else:
        cols["label"] = F.lit(None).cast("int")
        cols["fraud_type"] = F.lit(None).cast("string")
    cols["date"] = F.to_date(F.element_at(ev, 1)["ts"])
    return grouped.select(*[c.alias(name) for name, c in cols.items()])
