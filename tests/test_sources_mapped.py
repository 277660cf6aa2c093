"""YAML-mapped CSV / JSON-lines / Parquet sources: no code per format, ingest's strictness."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from helpers import ingest_and_sessionize

from ubsd.io.schemas import EVENTS_SCHEMA, LABELS_SCHEMA
from ubsd.io.tables import read_table
from ubsd.sources.mapping import Mapping, MappingError, load_mapping

EXAMPLE = Path(__file__).resolve().parents[1] / "conf" / "mappings" / "example_clicks.yaml"


def _events(spark, settings):
    rows = read_table(spark, f"{settings.storage.root}/tables/events", "delta", EVENTS_SCHEMA)
    return {r["event_id"]: r for r in rows.collect()}


def test_example_mapping_csv(spark, tmp_path):
    src = tmp_path / "export.csv"
    src.write_text(
        "click_id,account,when,action,sku,cat,price,is_bot\n"
        "c1,acct-1,01/11/2026 10:00:00,PV,sku-9,shoes,,0\n"
        'c2,acct-1,01/11/2026 10:01:00,basket,"sku,10",shoes,19.90,0\n'
        "c3,acct-2,01/11/2026 10:02:00,order,sku-9,shoes,49.00,1\n"
        "c4,acct-2,2026-11-01 10:03:00,pv,sku-9,shoes,,0\n"  # not the mapping's format
        "c5,acct-2,01/11/2026 10:04:00,teleport,sku-9,shoes,,0\n"  # unmapped: quarantined
        "c6,acct-2,01/11/2026 10:05:00,pv,sku-9\n"  # too few fields
        "c7,acct-3,02/11/2026 00:30:00,pv,sku-1,hats,,0\n"  # 23:30 UTC on 11-01
    )
    settings, s, w = ingest_and_sessionize(
        spark,
        tmp_path,
        "source.kind=mapped",
        f"source.mapping_file={EXAMPLE}",
        f"source.input_path={src}",
        "storage.labels_path=labels",
        "ingest.max_quarantine_rate=1.0",
        start="2026-11-01",
        end="2026-11-01",
    )
    assert s["rows_read"] == 7
    assert (s["accepted"], s["quarantined"], s["filtered"]) == (4, 3, 0)
    assert s["quarantine_reasons"] == {
        "malformed_record": 1,
        "unknown_event_type": 1,
        "unparseable_timestamp": 1,
    }
    ev = _events(spark, settings)
    assert sorted(ev) == ["c1", "c2", "c3", "c7"]
    assert ev["c1"]["ts"] == dt.datetime(2026, 11, 1, 9, 0)  # Berlin (CET) -> UTC
    assert ev["c7"]["ts"] == dt.datetime(2026, 11, 1, 23, 30)
    assert (ev["c1"]["event_type"], ev["c2"]["event_type"], ev["c3"]["event_type"]) == (
        "view",
        "add_to_cart",
        "purchase",
    )
    assert (ev["c2"]["item_id"], ev["c2"]["price"]) == ("sku,10", 19.9)
    assert s["labels"]["rows"] == 4 and s["labels"]["positive"] == 1
    labels = spark.read.schema(LABELS_SCHEMA).parquet(f"{settings.storage.root}/labels")
    assert {(r["event_id"], r["fraud_type"]) for r in labels.where("is_fraud").collect()} == {
        ("c3", "bot")
    }
    assert w is not None and w["windows"] == 3 and w["positive_windows"] == 1


def test_json_lines_and_parquet_with_filtered_types(spark, tmp_path):
    mapping = {
        "format": "json",
        "columns": {"uid": "user_id", "t": "ts", "kind": "event_type", "q": "query"},
        "timestamp_format": "epoch_ms",
        "event_types": {"s": "search", "v": "view"},
        "unmapped_event_types": "filter",
        "sensitive_user_id": True,
    }
    mfile = tmp_path / "m.yaml"
    mfile.write_text(yaml.safe_dump(mapping))
    base = 1793520000000  # 2026-11-01T08:00:00Z
    lines = [
        json.dumps({"uid": "a@example.com", "t": base, "kind": "s", "q": "Red Shoes"}),
        json.dumps({"uid": "a@example.com", "t": base + 5000, "kind": "v", "extra": 1}),
        json.dumps({"uid": "a@example.com", "t": base + 6000, "kind": "heartbeat"}),
        json.dumps({"uid": "a@example.com", "t": "soon", "kind": "v"}),
        "[1, 2]",
    ]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "e.jsonl").write_text("\n".join(lines) + "\n")
    settings, s, _ = ingest_and_sessionize(
        spark,
        tmp_path,
        "source.kind=mapped",
        f"source.mapping_file={mfile}",
        f"source.input_path={tmp_path / 'in'}",
        "ingest.max_quarantine_rate=1.0",
        start="2026-11-01",
        end="2026-11-01",
        sessionize=False,
    )
    assert (s["rows_read"], s["accepted"], s["quarantined"], s["filtered"]) == (5, 2, 2, 1)
    assert s["filter_reasons"] == {"unmapped_event_type": 1}
    assert s["quarantine_reasons"] == {"malformed_record": 1, "unparseable_timestamp": 1}
    ev = list(_events(spark, settings).values())
    assert {e["query"] for e in ev} == {"red shoes", None}
    assert all("@" not in e["user_id"] for e in ev)  # hashed: sensitive_user_id

    pq_dir = tmp_path / "pq" / "date=2026-11-02"
    pq_dir.mkdir(parents=True)
    table = pa.table(
        {
            "user": ["u1", "u1"],
            "at": [dt.datetime(2026, 11, 2, 8), dt.datetime(2026, 11, 2, 9)],
            "what": ["v", "s"],
        }
    )
    pq.write_table(table, pq_dir / "part-0.parquet")
    mfile.write_text(
        yaml.safe_dump(
            {
                "format": "parquet",
                "columns": {"user": "user_id", "at": "ts", "what": "event_type"},
                "event_types": {"s": "search", "v": "view"},
            }
        )
    )
    settings, s, _ = ingest_and_sessionize(
        spark,
        tmp_path,
        "source.kind=mapped",
        f"source.mapping_file={mfile}",
        f"source.input_path={tmp_path / 'pq' / 'date={date}'}",
        start="2026-11-02",
        end="2026-11-02",
        sessionize=False,
    )
    assert (s["rows_read"], s["accepted"], s["input_spans_dates"]) == (2, 2, False)
    day = [e for e in _events(spark, settings).values() if e["date"] == dt.date(2026, 11, 2)]
    assert sorted(e["ts"].hour for e in day) == [8, 9]


def test_mapping_file_is_validated(tmp_path):
    assert load_mapping(EXAMPLE).source_column("user_id") == "account"
    with pytest.raises(ValueError, match="not contract fields"):
        Mapping.model_validate({"format": "csv", "columns": {"a": "user", "b": "ts"}})
    with pytest.raises(ValueError, match="required contract fields not mapped"):
        Mapping.model_validate({"format": "csv", "columns": {"a": "user_id", "b": "ts"}})
    with pytest.raises(ValueError, match="label_column"):
        Mapping.model_validate(
            {
                "format": "json",
                "columns": {"a": "user_id", "b": "ts", "y": "channel"},
                "constants": {"event_type": "view"},
                "label_column": "y",
            }
        )
    bad = tmp_path / "bad.yaml"
    bad.write_text("format: csv\ncolumns: {a: user_id}\nsurprise: 1\n")
    with pytest.raises(MappingError):
        load_mapping(bad)
