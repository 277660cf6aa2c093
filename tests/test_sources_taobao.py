"""Taobao UserBehavior: the real sample (43 users, many dates) and the adapter's checks."""

from __future__ import annotations

import collections

import pytest
from helpers import SHARED_DATA, ingest_and_sessionize

from ubsd.io.schemas import EVENTS_SCHEMA
from ubsd.io.tables import read_table

SAMPLE = SHARED_DATA / "taobao_userbehavior_head" / "UserBehavior_head.csv"


def _base(path):
    return ("source.kind=taobao", f"source.input_path={path}", "ingest.max_quarantine_rate=1.0")


@pytest.mark.skipif(not SAMPLE.is_file(), reason=f"no Taobao sample at {SAMPLE}")
def test_sample_ingests_every_row_and_sessionizes(spark, tmp_path):
    settings, s, w = ingest_and_sessionize(
        spark, tmp_path, *_base(SAMPLE), start="2017-09-11", end="2017-12-03"
    )
    assert s["rows_read"] == 4321 and s["reconciled"]
    assert (s["accepted"], s["quarantined"], s["duplicate"], s["filtered"]) == (4321, 0, 0, 0)
    early = sum(n for d, n in s["accepted_per_date"].items() if d < "2017-11-25")
    assert early == 53  # before the dataset's nominal start, as in the original (PROVENANCE.md)
    events = read_table(spark, f"{settings.storage.root}/tables/events", "delta", EVENTS_SCHEMA)
    types = {r["event_type"]: r["count"] for r in events.groupBy("event_type").count().collect()}
    assert types == {"view": 3926, "add_to_cart": 190, "favorite": 128, "purchase": 77}
    assert events.select("user_id").distinct().count() == 43
    assert w is not None and w["users"] == 43 and w["windows"] > 43


def test_checks_and_a_single_day_of_a_many_day_file(spark, tmp_path):
    rows = {
        "1,100,7,pv,1511544070": "2017-11-24",
        "1,101,7,buy,1511544090": "2017-11-24",
        "1,101,7,cart,1511630470": "2017-11-25",  # another day: filtered in a one-day run
        "1,101,7,click,1511544095": "invalid_value",
        "1,101,7,pv,yesterday": "unparseable_timestamp",
        "1,101,7,pv": "malformed_record",
        ",101,7,pv,1511544099": "missing_required_field",
    }
    src = tmp_path / "ub.csv"
    src.write_text("\n".join(rows) + "\n")
    _, s, _ = ingest_and_sessionize(
        spark, tmp_path, *_base(src), start="2017-11-24", end="2017-11-24", sessionize=False
    )
    assert (s["rows_read"], s["accepted"], s["filtered"]) == (7, 2, 1)
    assert s["filter_reasons"] == {"outside_run_dates": 1}
    want = collections.Counter(v for v in rows.values() if not v.startswith("2017"))
    assert s["quarantine_reasons"] == dict(want)
