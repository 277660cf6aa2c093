"""Ingest: every quarantine reason, reconciliation, dedup, reruns, formats, privacy."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import event, make_settings, write_jsonl

from ubsd.ingest import IngestError, QuarantineRateError, run_ingest
from ubsd.ingest.hashing import DEV_HASH_KEY, keyed_hash_value
from ubsd.io.schemas import EVENTS_SCHEMA, QUARANTINE_REASONS, QUARANTINE_SCHEMA
from ubsd.io.tables import read_table
from ubsd.runs import RunContext, run_dates

D = "2026-11-01"


def _ingest(spark, root: Path, *overrides: str, date: str = D, **kw):
    settings = make_settings(root, "ingest.max_quarantine_rate=1.0", *overrides)
    ctx = RunContext("ingest", run_dates(date=date) if not kw else run_dates(**kw))
    return settings, run_ingest(spark, settings, ctx)


def _table(spark, settings, which: str, schema):
    path = f"{settings.storage.root}/tables/{which}"
    return read_table(spark, path, settings.storage.format, schema)


def _input(root: Path, rows, date: str = D, name: str = "part-0.jsonl") -> Path:
    return write_jsonl(root / "raw" / f"date={date}" / name, rows)


# One row per quarantine reason; each is quarantined with exactly that reason.
BAD_ROWS: dict[str, dict | str] = {
    "malformed_record": '{"event_id": "m1", "user_id": "u1", "ts": "2026-11-01T10:00:00Z"',
    "missing_required_field": event("m2", "", f"{D}T10:00:00Z"),
    "oversized_field": event("m3", "u1", f"{D}T10:00:00Z", "search", query="x" * 5000),
    "unparseable_timestamp": event("m4", "u1", "yesterday at noon"),
    "timestamp_out_of_range": event("m5", "u1", "1999-12-31T23:59:59Z"),
    "timestamp_in_future": event("m6", "u1", "2026-11-03T00:00:01Z"),
    "wrong_date": event("m7", "u1", "2026-10-31T23:59:59Z"),
    "invalid_value": event("m8", "u1", f"{D}T10:00:00Z", position="third"),
    "invalid_price": event("m9", "u1", f"{D}T10:00:00Z", price=-3.5),
    "unknown_event_type": event("m10", "u1", f"{D}T10:00:00Z", "teleport"),
}


def test_every_reason_is_covered_by_a_case():
    assert set(BAD_ROWS) | {"conflicting_duplicate"} == set(QUARANTINE_REASONS)


def test_each_quarantine_reason(spark, tmp_path):
    good = [event("g1", "u1", f"{D}T09:00:00Z", "search", query="shoes")]
    conflict = [
        event("c1", "u2", f"{D}T09:00:00Z", price=5.0),
        event("c1", "u2", f"{D}T09:00:00Z", price=6.0),
    ]
    _input(tmp_path, [*good, *BAD_ROWS.values(), *conflict])
    settings, summary = _ingest(spark, tmp_path, "ingest.allow_unknown_event_types=false")
    q = _table(spark, settings, "quarantine", QUARANTINE_SCHEMA)
    got = {r["reason"] for r in q.collect()}
    assert got == set(QUARANTINE_REASONS)
    by_id = {r["event_id"]: r["reason"] for r in q.collect() if r["event_id"]}
    for reason, row in BAD_ROWS.items():
        if isinstance(row, dict) and row["event_id"] != "m2":
            assert by_id[row["event_id"]] == reason
    assert summary["quarantine_reasons"] == {r: 1 for r in QUARANTINE_REASONS}
    assert summary["accepted"] == 2  # g1 and the first c1
    assert summary["rows_read"] == 1 + len(BAD_ROWS) + 2


def test_reconciliation_equation_and_per_date_counts(spark, tmp_path):
    rows = [event(f"e{i}", f"u{i % 3}", f"{D}T10:{i:02d}:00Z") for i in range(20)]
    rows += [rows[0], rows[1], "not json", "", event("x", "u1", "nope")]
    _input(tmp_path, rows)
    settings, s = _ingest(spark, tmp_path)
    assert s["rows_read"] == 25
    assert s["accepted"] + s["quarantined"] + s["duplicate"] + s["filtered"] == s["rows_read"]
    assert (s["accepted"], s["duplicate"], s["quarantined"]) == (20, 2, 3)
    assert s["accepted_per_date"] == {D: 20}
    assert s["reconciled"] is True
    events = _table(spark, settings, "events", EVENTS_SCHEMA)
    assert events.count() == 20
    q = _table(spark, settings, "quarantine", QUARANTINE_SCHEMA)
    assert q.count() == 3


def test_dedup_first_ingested_survives_across_files(spark, tmp_path):
    _input(tmp_path, [event("e1", "u1", f"{D}T10:00:00Z", price=1.0)], name="a.jsonl")
    _input(
        tmp_path,
        [
            event("e1", "u1", f"{D}T10:00:00Z", price=1.0),
            event("e1", "u1", f"{D}T10:00:00Z", price=2.0),
        ],
        name="b.jsonl",
    )
    settings, s = _ingest(spark, tmp_path)
    assert (s["accepted"], s["duplicate"], s["quarantine_reasons"]) == (
        1,
        1,
        {"conflicting_duplicate": 1},
    )
    (row,) = _table(spark, settings, "events", EVENTS_SCHEMA).collect()
    assert row["price"] == 1.0 and row["source_file"].endswith("a.jsonl")


def test_same_content_with_whitespace_is_a_duplicate(spark, tmp_path):
    _input(
        tmp_path,
        [
            event("e1", "u1", f"{D}T10:00:00Z", "View"),
            event("e1", " u1 ", f"{D}T10:00:00.000Z", " view "),
        ],
    )
    _, s = _ingest(spark, tmp_path)
    assert (s["accepted"], s["duplicate"], s["quarantined"]) == (1, 1, 0)


def test_normalization(spark, tmp_path):
    _input(
        tmp_path,
        [
            event(
                "e1",
                "u1",
                "2026-11-01T12:30:00+02:00",
                " Add_To_Cart ",
                query="  Red\tShoes\u0007 👟  ",
                position="3",
                is_sponsored="yes",
                price="12.50",
                channel="WEB",
            ),
            event("e2", "u1", "1793534400000", "purchase"),  # epoch millis
            event("e3", "u1", "2026-11-01 08:00:00", "view"),  # no zone: UTC by default
        ],
    )
    settings, s = _ingest(spark, tmp_path)
    assert s["accepted"] == 3
    rows = {r["event_id"]: r for r in _table(spark, settings, "events", EVENTS_SCHEMA).collect()}
    e1 = rows["e1"]
    assert e1["ts"] == dt.datetime(2026, 11, 1, 10, 30)
    assert e1["event_type"] == "add_to_cart"
    assert e1["query"] == "red shoes 👟"
    assert (e1["position"], e1["is_sponsored"], e1["price"], e1["channel"]) == (
        3,
        True,
        12.5,
        "web",
    )
    assert rows["e2"]["ts"] == dt.datetime(2026, 11, 1, 12, 0)
    assert rows["e3"]["ts"] == dt.datetime(2026, 11, 1, 8, 0)


def test_naive_timestamps_can_be_rejected(spark, tmp_path):
    _input(tmp_path, [event("e3", "u1", "2026-11-01 08:00:00")])
    _, s = _ingest(spark, tmp_path, "ingest.naive_timestamps=reject")
    assert s["quarantine_reasons"] == {"unparseable_timestamp": 1}


def test_future_is_relative_to_run_date_plus_skew(spark, tmp_path):
    _input(tmp_path, [event("e1", "u1", "2026-11-02T05:00:00Z")])
    _, s = _ingest(spark, tmp_path, "ingest.future_skew_hours=6")
    assert s["quarantine_reasons"] == {"wrong_date": 1}  # within the skew: just another date
    _, s = _ingest(spark, tmp_path, "ingest.future_skew_hours=1")
    assert s["quarantine_reasons"] == {"timestamp_in_future": 1}


def test_rerun_replaces_only_its_date(spark, tmp_path):
    _input(tmp_path, [event("a", "u1", f"{D}T10:00:00Z"), event("b", "u1", f"{D}T11:00:00Z")])
    _input(tmp_path, [event("c", "u1", "2026-11-02T10:00:00Z")], date="2026-11-02")
    settings, _ = _ingest(spark, tmp_path, start=D, end="2026-11-02")
    events = lambda: _table(spark, settings, "events", EVENTS_SCHEMA)  # noqa: E731
    assert events().count() == 3
    _ingest(spark, tmp_path)  # rerun D alone with the same input
    assert events().count() == 3
    _input(tmp_path, [event("a", "u1", f"{D}T10:00:00Z")])  # D's input shrank
    _ingest(spark, tmp_path)
    got = sorted((r["event_id"], r["date"].isoformat()) for r in events().collect())
    assert got == [("a", D), ("c", "2026-11-02")]


def test_range_mode_assigns_rows_to_their_own_dates(spark, tmp_path):
    _input(tmp_path, [event("a", "u1", f"{D}T10:00:00Z"), event("b", "u1", "2026-11-02T01:00:00Z")])
    _input(tmp_path, [event("c", "u2", "2026-11-02T03:00:00Z")], date="2026-11-02")
    _, s = _ingest(spark, tmp_path, start=D, end="2026-11-02")
    assert s["accepted_per_date"] == {D: 1, "2026-11-02": 2}
    assert s["quarantined"] == 0


def test_quarantine_rate_fails_loudly_without_writing_events(spark, tmp_path):
    _input(tmp_path, [event("a", "u1", f"{D}T10:00:00Z"), "garbage", "more garbage"])
    settings = make_settings(tmp_path, "ingest.max_quarantine_rate=0.5")
    with pytest.raises(QuarantineRateError, match=r"66\.67% \(2 of 3 rows\)") as err:
        run_ingest(spark, settings, RunContext("ingest", run_dates(D)))
    assert err.value.summary["status"] == "failed"
    assert _table(spark, settings, "events", EVENTS_SCHEMA).count() == 0
    assert _table(spark, settings, "quarantine", QUARANTINE_SCHEMA).count() == 2


def test_missing_input_fails_or_writes_an_empty_day(spark, tmp_path):
    settings = make_settings(tmp_path)
    with pytest.raises(IngestError, match="no input for 2026-11-01"):
        run_ingest(spark, settings, RunContext("ingest", run_dates(D)))
    _input(tmp_path, [event("a", "u1", f"{D}T10:00:00Z")])
    _ingest(spark, tmp_path)
    (tmp_path / "raw" / f"date={D}" / "part-0.jsonl").unlink()
    settings, s = _ingest(spark, tmp_path, "ingest.missing_input=empty")
    assert s["rows_read"] == 0 and s["missing_input_dates"] == [D]
    assert _table(spark, settings, "events", EVENTS_SCHEMA).count() == 0


def test_ip_and_device_leave_ingest_only_as_keyed_hashes(spark, tmp_path):
    _input(
        tmp_path,
        [
            event("a", "u1", f"{D}T10:00:00Z", ip="203.0.113.7", device_id="dev-42"),
            event("b", "u1", "bad-ts", ip="203.0.113.7", device_id="dev-42"),
        ],
    )
    settings, _ = _ingest(spark, tmp_path)
    events = _table(spark, settings, "events", EVENTS_SCHEMA)
    (row,) = events.collect()
    key = DEV_HASH_KEY.encode()
    assert row["ip_hash"] == keyed_hash_value("203.0.113.7", key)
    assert row["device_hash"] == keyed_hash_value("dev-42", key)
    assert "203.0.113.7" not in str(row.asDict().values())
    (q,) = _table(spark, settings, "quarantine", QUARANTINE_SCHEMA).collect()
    assert "203.0.113.7" not in q["raw"] and "dev-42" not in q["raw"]


def test_hash_key_is_not_in_the_query_plan(spark, tmp_path):
    from pyspark.sql import functions as F

    from ubsd.ingest.hashing import keyed_hash

    df = spark.createDataFrame([("1.2.3.4",)], "ip string")
    out = df.select(keyed_hash(F.col("ip"), "UBSD_HASH_SECRET", True).alias("h"))
    plan = out._jdf.queryExecution().toString()
    assert DEV_HASH_KEY not in plan
    assert out.first()["h"] == keyed_hash_value("1.2.3.4", DEV_HASH_KEY.encode())


def test_missing_hash_key_is_a_clear_error(spark, tmp_path, monkeypatch):
    from ubsd.ingest.hashing import HashKeyError

    monkeypatch.delenv("UBSD_TEST_ABSENT_KEY", raising=False)
    _input(tmp_path, [event("a", "u1", f"{D}T10:00:00Z")])
    settings = make_settings(
        tmp_path, "ingest.allow_dev_hash_key=false", "ingest.hash_key_env=UBSD_TEST_ABSENT_KEY"
    )
    with pytest.raises(HashKeyError, match="UBSD_TEST_ABSENT_KEY is not set"):
        run_ingest(spark, settings, RunContext("ingest", run_dates(D)))


def test_csv_input_with_schema_drift(spark, tmp_path):
    folder = tmp_path / "raw" / f"date={D}"
    folder.mkdir(parents=True)
    (folder / "part-0.csv").write_text(
        "event_id,user_id,ts,event_type,price,extra_col\n"
        f"a,u1,{D}T10:00:00Z,view,3.5,zzz\n"
        f"b,u1,{D}T10:01:00Z,view,-1,zzz\n"
    )
    _settings, s = _ingest(spark, tmp_path, "ingest.input_format=csv")
    assert (s["accepted"], s["quarantine_reasons"]) == (1, {"invalid_price": 1})
    assert "extra_col" in s["schema_drift"]["extra_columns"]
    assert "item_id" in s["schema_drift"]["missing_columns"]


def test_parquet_input(spark, tmp_path):
    folder = tmp_path / "raw" / f"date={D}"
    folder.mkdir(parents=True)
    table = pa.table(
        {
            "event_id": ["a", "b"],
            "user_id": ["u1", "u2"],
            "ts": [f"{D}T10:00:00Z", f"{D}T11:00:00Z"],
            "event_type": ["view", "purchase"],
            "price": [1.0, float("nan")],
            "position": pa.array([1, None], pa.int32()),
        }
    )
    pq.write_table(table, folder / "part-0.parquet")
    _settings, s = _ingest(spark, tmp_path, "ingest.input_format=parquet")
    assert (s["accepted"], s["quarantine_reasons"]) == (1, {"invalid_price": 1})


def test_parquet_table_format_fallback(spark, tmp_path):
    _input(tmp_path, [event("a", "u1", f"{D}T10:00:00Z")])
    settings, _ = _ingest(spark, tmp_path, "storage.format=parquet")
    assert (tmp_path / "tables" / "events" / f"date={D}").is_dir()
    assert _table(spark, settings, "events", EVENTS_SCHEMA).count() == 1
    _input(tmp_path, ["not json"])
    settings, _s = _ingest(spark, tmp_path, "storage.format=parquet")
    assert _table(spark, settings, "events", EVENTS_SCHEMA).count() == 0
    assert not (tmp_path / "tables" / "events" / f"date={D}").exists()
