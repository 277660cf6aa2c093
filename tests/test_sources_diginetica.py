"""DIGINETICA item views: the real sample, anonymous sessions keyed by their session."""

from __future__ import annotations

import csv
import datetime as dt

import pytest
from helpers import SHARED_DATA, ingest_and_sessionize

from ubsd.io.schemas import EVENTS_SCHEMA
from ubsd.io.tables import read_table

SAMPLE = SHARED_DATA / "diginetica_sample" / "sample_train-item-views.csv"


def _base(path):
    return ("source.kind=diginetica", f"source.input_path={path}", "ingest.max_quarantine_rate=1.0")


@pytest.mark.skipif(not SAMPLE.is_file(), reason=f"no DIGINETICA sample at {SAMPLE}")
def test_sample_ingests_every_row_and_sessionizes(spark, tmp_path):
    with SAMPLE.open() as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))
    anonymous = {r["session_id"] for r in rows if r["user_id"] == "NA"}
    known = {r["user_id"] for r in rows if r["user_id"] != "NA"}
    days = [
        dt.datetime.fromisoformat(r["eventdate"]) + dt.timedelta(milliseconds=int(r["timeframe"]))
        for r in rows
    ]
    start, end = min(days).date().isoformat(), max(days).date().isoformat()
    settings, s, w = ingest_and_sessionize(spark, tmp_path, *_base(SAMPLE), start=start, end=end)
    assert s["rows_read"] == len(rows) == 12391 and s["reconciled"]
    assert (s["accepted"], s["quarantined"], s["duplicate"], s["filtered"]) == (12391, 0, 0, 0)
    events = read_table(spark, f"{settings.storage.root}/tables/events", "delta", EVENTS_SCHEMA)
    users = {r[0] for r in events.select("user_id").distinct().collect()}
    assert users == {f"s:{x}" for x in anonymous} | {f"u:{x}" for x in known}
    assert w is not None and w["windows"] > 0 and w["users"] == len(users)


def test_checks(spark, tmp_path):
    src = tmp_path / "views.csv"
    src.write_text(
        "session_id;user_id;item_id;timeframe;eventdate\n"
        "1;NA;81766;526309;2016-05-09\n"
        "1;NA;31331;1031018;2016-05-09\n"
        "2;77;31331;5000;2016-05-09\n"
        "3;NA;;5000;2016-05-09\n"  # no item
        "4;NA;5;soon;2016-05-09\n"
        "5;NA;5;100;2016-13-09\n"
        "6;NA;5;100\n"
        ";NA;5;100;2016-05-09\n"  # anonymous and no session: no user key
    )
    settings, s, _ = ingest_and_sessionize(
        spark, tmp_path, *_base(src), start="2016-05-09", end="2016-05-09", sessionize=False
    )
    assert (s["rows_read"], s["accepted"]) == (8, 3)
    assert s["quarantine_reasons"] == {
        "malformed_record": 1,
        "missing_required_field": 2,
        "unparseable_timestamp": 2,
    }
    events = read_table(spark, f"{settings.storage.root}/tables/events", "delta", EVENTS_SCHEMA)
    got = sorted((r["user_id"], r["ts"].isoformat()) for r in events.collect())
    assert got == [
        ("s:1", "2016-05-09T00:08:46.309000"),
        ("s:1", "2016-05-09T00:17:11.018000"),
        ("u:77", "2016-05-09T00:00:05"),
    ]
