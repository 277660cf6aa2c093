"""TalkingData AdTracking clicks: ad_click events, attribution only in the labels input."""

from __future__ import annotations

import re

import pytest
from helpers import SHARED_DATA, ingest_and_sessionize

from ubsd.ingest.hashing import DEV_HASH_KEY, keyed_hash_value
from ubsd.io.schemas import EVENTS_SCHEMA, LABELS_SCHEMA, QUARANTINE_SCHEMA
from ubsd.io.tables import read_table

SAMPLE = SHARED_DATA / "talkingdata" / "train_sample.csv"
needs_sample = pytest.mark.skipif(not SAMPLE.is_file(), reason=f"no TalkingData sample at {SAMPLE}")
KEY = DEV_HASH_KEY.encode()
GOOD = "87540,12,1,13,497,2017-11-07 09:30:38,,0"
BAD_ROWS = {
    "1,2,3": "malformed_record",
    "": "malformed_record",
    "x7,12,1,13,497,2017-11-07 09:30:38,,0": "invalid_value",
    ",12,1,13,497,2017-11-07 09:30:38,,0": "missing_required_field",  # ip is in the user key
    "5,12,1,13,497,2017-11-31 09:30:38,,0": "unparseable_timestamp",
    "5,12,1,13,497,2017-11-07 09:30:38,,2": "invalid_value",  # is_attributed
    "5,12,1,13,497,2017-11-07 09:30:38,2017-11-07 10:00:00,0": "invalid_value",  # inconsistent
    "5,12,1,13,497,2017-11-07 09:30:38,,1": "invalid_value",  # attributed without a time
}


def _settings(path, *extra):
    return (
        "source.kind=talkingdata",
        f"source.input_path={path}",
        "storage.labels_path=labels",
        "ingest.max_quarantine_rate=1.0",
        *extra,
    )


def test_small_file_every_check_labels_kept_out_of_events(spark, tmp_path):
    lines = [
        "..ip,app,device,os,channel,click_time,attributed_time,is_attributed",  # stray prefix
        GOOD,
        GOOD,  # the same click twice: a duplicate (content-derived event id)
        "87540,12,1,13,497,2017-11-07 09:40:00,,0",
        "87540,12,1,13,497,2017-11-07 09:41:00,2017-11-07 09:50:00,1",
        "99999,3,2,19,120,2017-11-08 00:00:01,,0",
        *BAD_ROWS,
    ]
    src = tmp_path / "in" / "clicks.csv"
    src.parent.mkdir()
    src.write_text("\n".join(lines) + "\n")
    settings, s, w = ingest_and_sessionize(
        spark, tmp_path, *_settings(src), start="2017-11-07", end="2017-11-08"
    )
    assert s["rows_read"] == len(lines) - 1  # the header is not a row
    assert (s["accepted"], s["duplicate"], s["quarantined"], s["filtered"]) == (4, 1, 8, 0)
    expected: dict[str, int] = {}
    for reason in BAD_ROWS.values():
        expected[reason] = expected.get(reason, 0) + 1
    assert s["quarantine_reasons"] == expected
    assert s["labels"]["rows"] == 4 and s["labels"]["positive"] == 1

    root = settings.storage.root
    events = read_table(spark, f"{root}/tables/events", "delta", EVENTS_SCHEMA).collect()
    assert {e["event_type"] for e in events} == {"ad_click"}
    user = keyed_hash_value("87540|1|13", KEY)
    mine = sorted((e for e in events if e["user_id"] == user), key=lambda e: e["ts"])
    assert [e["ts"].isoformat() for e in mine] == [
        "2017-11-07T09:30:38",
        "2017-11-07T09:40:00",
        "2017-11-07T09:41:00",
    ]
    assert (mine[0]["item_id"], mine[0]["category_id"], mine[0]["channel"]) == ("12", "497", "497")
    assert mine[0]["ip_hash"] == keyed_hash_value("87540", KEY)
    assert mine[0]["device_hash"] == keyed_hash_value("1/13", KEY)
    # The attribution is nowhere in the events: same columns as the contract, no raw user key.
    assert [f.name for f in EVENTS_SCHEMA.fields] == list(events[0].asDict())
    assert all(re.fullmatch(r"[0-9a-f]{32}", e["user_id"]) for e in events)

    labels = spark.read.schema(LABELS_SCHEMA).parquet(f"{root}/labels").collect()
    assert len(labels) == 4
    positive = [r for r in labels if r["is_fraud"]]
    assert len(positive) == 1 and positive[0]["fraud_type"] == "attributed"
    assert positive[0]["event_id"] == mine[2]["event_id"] and positive[0]["user_id"] == user
    q = read_table(spark, f"{root}/tables/quarantine", "delta", QUARANTINE_SCHEMA).collect()
    assert len(q) == 8
    details = {r["detail"] for r in q}  # the adapter's details and ingest's own
    assert {"is_attributed=2", "ip=x7", "ts=2017-11-31T09:30:38Z", "user_id"} <= details
    assert w is not None and w["windows"] == 2 and w["positive_windows"] == 1


def test_user_key_without_ip_is_not_hashed(spark, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("ip,app,device,os,channel,click_time,attributed_time,is_attributed\n" + GOOD)
    settings, s, _ = ingest_and_sessionize(
        spark,
        tmp_path,
        *_settings(src, "source.talkingdata_user_key=[app, channel]"),
        start="2017-11-07",
        end="2017-11-07",
        sessionize=False,
    )
    assert s["accepted"] == 1
    (e,) = read_table(
        spark, f"{settings.storage.root}/tables/events", "delta", EVENTS_SCHEMA
    ).collect()
    assert e["user_id"] == "12|497"


@needs_sample
def test_sample_head_one_day_rows_of_other_days_filtered(spark, tmp_path):
    """The first 5,000 clicks of the real sample (written to tmp, never to the repo)."""
    head = SAMPLE.read_text().splitlines()[:5001]
    src = tmp_path / "head.csv"
    src.write_text("\n".join(head) + "\n")
    rows = [r.split(",") for r in head[1:]]
    on_day = [r for r in rows if r[5].startswith("2017-11-07")]
    _, s, w = ingest_and_sessionize(
        spark, tmp_path, *_settings(src), start="2017-11-07", end="2017-11-07"
    )
    assert s["rows_read"] == 5000 and s["quarantined"] == 0
    assert s["filter_reasons"] == {"outside_run_dates": len(rows) - len(on_day)}
    assert s["accepted"] + s["duplicate"] == len(on_day)
    assert s["labels"]["positive"] == sum(r[7] == "1" for r in on_day)
    assert w is not None and w["windows"] > 0


@pytest.mark.slow
@needs_sample
def test_full_sample_ingests_and_sessionizes(spark, tmp_path):
    _, s, w = ingest_and_sessionize(
        spark, tmp_path, *_settings(SAMPLE), start="2017-11-06", end="2017-11-09"
    )
    assert s["rows_read"] == 100_000 and s["reconciled"]
    # One exact repeat of a line in the sample is the only row that is not an event.
    assert (s["accepted"], s["duplicate"], s["quarantined"], s["filtered"]) == (99_999, 1, 0, 0)
    assert s["labels"] == {**s["labels"], "rows": 99_999, "positive": 227}
    assert w is not None and w["windows"] > 90_000 and w["positive_windows"] == 227
