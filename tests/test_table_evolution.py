"""Tables only grow by nullable columns: a table written before a column existed still reads,
and the next write adds the column (Delta schema merge) without touching older dates."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql.types import StructType

from ubsd.io.schemas import EVENTS_SCHEMA
from ubsd.io.tables import conform, read_table, write_dates

D1, D2 = dt.date(2026, 11, 1), dt.date(2026, 11, 2)


def _row(event_id: str, day: dt.date, **extra) -> dict:
    row = {f.name: None for f in EVENTS_SCHEMA.fields}
    row.update(
        event_id=event_id,
        user_id="u1",
        ts=dt.datetime.combine(day, dt.time(12)),
        event_type="view",
        date=day,
        run_id="r",
        processed_at=dt.datetime(2026, 11, 3),
        **extra,
    )
    return row


def test_old_events_table_reads_and_takes_the_new_column(spark, tmp_path):
    old_schema = StructType([f for f in EVENTS_SCHEMA.fields if f.name != "attrs"])
    path = str(tmp_path / "events")
    old = [{k: v for k, v in _row("e1", D1).items() if k != "attrs"}]
    spark.createDataFrame(old, old_schema).write.format("delta").partitionBy("date").save(path)

    (r,) = read_table(spark, path, "delta", EVENTS_SCHEMA).collect()
    assert r["event_id"] == "e1" and r["attrs"] is None

    new = spark.createDataFrame([_row("e2", D2, attrs={"http_status": "404"})], EVENTS_SCHEMA)
    write_dates(new, path, [D2], "delta", EVENTS_SCHEMA)
    rows = {r["event_id"]: r for r in read_table(spark, path, "delta", EVENTS_SCHEMA).collect()}
    assert rows["e1"]["attrs"] is None and rows["e2"]["attrs"] == {"http_status": "404"}


def test_a_missing_required_column_is_still_an_error(spark):
    df = spark.createDataFrame([("e1",)], "event_id string")
    with pytest.raises(ValueError, match=r"missing columns for table schema: .*user_id"):
        conform(df, EVENTS_SCHEMA)
