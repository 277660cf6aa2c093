"""Web access logs (combined format, and with a cookie field) through the weblog adapter."""

from __future__ import annotations

import re
from pathlib import Path

from helpers import ingest_and_sessionize

from ubsd.config import load_config
from ubsd.ingest.hashing import DEV_HASH_KEY, keyed_hash_value
from ubsd.io.schemas import EVENTS_SCHEMA, QUARANTINE_SCHEMA
from ubsd.io.tables import read_table
from ubsd.sources import read_source

DATA = Path(__file__).parent / "data" / "weblog"
COMBINED = str(DATA / "access_combined.log")
KEY = DEV_HASH_KEY.encode()


def _table(spark, settings, which, schema):
    return read_table(spark, f"{settings.storage.root}/tables/{which}", "delta", schema).collect()


def test_combined_log_one_day_static_folded(spark, tmp_path):
    settings, s, w = ingest_and_sessionize(
        spark,
        tmp_path,
        "source.kind=weblog",
        "ingest.max_quarantine_rate=1.0",
        f"source.input_path={COMBINED}",
        start="2026-11-01",
        end="2026-11-01",
    )
    assert s["rows_read"] == 24 and s["reconciled"]
    assert (s["accepted"], s["quarantined"], s["duplicate"], s["filtered"]) == (11, 7, 1, 5)
    assert s["events_written"] == 11
    assert s["quarantine_reasons"] == {
        "invalid_value": 3,  # garbage request, status 999, bytes "lots"
        "malformed_record": 3,  # truncated, not a log line, blank
        "unparseable_timestamp": 1,  # 31/Nov
    }
    assert s["filter_reasons"] == {"outside_run_dates": 2, "static_asset": 3}

    events = _table(spark, settings, "events", EVENTS_SCHEMA)
    types = sorted(e["event_type"] for e in events)
    assert types == ["api", "api", "search", "search"] + ["view"] * 7
    searches = {e["query"] for e in events if e["event_type"] == "search"}
    assert searches == {"red running shoes", "café crème"}
    first = next(e for e in events if e["query"] == "red running shoes")
    assert first["ts"].isoformat() == "2026-11-01T09:00:05"  # +0100 normalized to UTC
    assert first["item_id"] == "/search" and first["category_id"] == "search"
    assert first["channel"] == "shop.example"
    # status, bytes and the full referrer are kept as attrs ("-" = not sent: absent)
    assert first["attrs"] == {
        "http_status": "200",
        "bytes": "7300",
        "referrer": "https://shop.example/",
    }
    home = next(e for e in events if e["item_id"] == "/" and e["ts"].hour == 9)
    assert home["attrs"] == {"http_status": "200", "bytes": "5120"}
    assert {e["channel"] for e in events if e["query"] == "café crème"} == {"www.google.com"}
    # User key: hashed client address + user agent (no cookie in this format): 4 visitors.
    users = {e["user_id"] for e in events}
    assert len(users) == 4 and all(re.fullmatch(r"[0-9a-f]{32}", u) for u in users)
    expected_user = keyed_hash_value(
        "client|203.0.113.7|Mozilla/5.0 (X11; Linux x86_64) Firefox/131.0", KEY
    )
    assert expected_user in users
    assert {e["ip_hash"] for e in events} >= {keyed_hash_value("203.0.113.7", KEY)}
    # No raw IP leaves ingest, in any column.
    for e in events:
        for value in e.asDict().values():
            assert "203.0.113" not in str(value) and "198.51.100" not in str(value)
    quarantined = _table(spark, settings, "quarantine", QUARANTINE_SCHEMA)
    assert all("192.0.2.1" not in (q["raw"] or "") for q in quarantined)
    assert w is not None and w["windows"] >= 4


def test_both_logs_range_static_kept_and_session_cookies(spark, tmp_path):
    settings, s, _ = ingest_and_sessionize(
        spark,
        tmp_path,
        "source.kind=weblog",
        "ingest.max_quarantine_rate=1.0",
        f"source.input_path={DATA}/*.log",
        "source.weblog_static=keep",
        start="2026-11-01",
        end="2026-11-02",
        sessionize=False,
    )
    assert s["rows_read"] == 31
    assert (s["accepted"], s["quarantined"], s["duplicate"], s["filtered"]) == (22, 7, 1, 1)
    assert s["accepted_per_date"] == {"2026-11-01": 21, "2026-11-02": 1}
    events = _table(spark, settings, "events", EVENTS_SCHEMA)
    assert sum(e["event_type"] == "static_asset" for e in events) == 3
    cookie = [e for e in events if e["source_file"].endswith("access_cookie.log")]
    by_user: dict[str, int] = {}
    for e in cookie:
        by_user[e["user_id"]] = by_user.get(e["user_id"], 0) + 1
    # session=s-aaa (any position, from two addresses), bare s-bbb, and no session -> address.
    assert sorted(by_user.values()) == [1, 2, 4]
    assert keyed_hash_value("session|s-aaa", KEY) in by_user
    assert keyed_hash_value("session|s-bbb", KEY) in by_user


def test_session_cookie_is_masked_in_raw_text(spark, tmp_path):
    log = tmp_path / "bad.log"
    log.write_text(
        '203.0.113.50 - - [01/Nov/2026:12:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "UA" '
        '"theme=dark; session=secret-token"\n'
        '203.0.113.50 - - [01/Nov/2026:12:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "UA" '
        '"session=secret-token"\n'
    )
    cfg = load_config(None, ["source.kind=weblog"]).source
    rows = read_source(spark, cfg, str(log)).collect()
    assert all("secret-token" not in r["raw"] and "session=<redacted>" in r["raw"] for r in rows)
    # ...but the event ids (content of the unmasked line) stay distinct per session.
    assert len({r["event_id"] for r in rows}) == 2
