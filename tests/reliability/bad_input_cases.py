"""Bad-input cases as data: each case's input rows and what must become of every one of them.

``expect`` counts each row's fate: ``accepted``, ``duplicate``, or the quarantine reason. A case
may add ``check(events, quarantine)`` on its own rows (value-level assertions).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from helpers import event

D = "2026-11-01"  # the run covers D .. D+2: D+1 has an empty file, D+2 no input at all
T = f"{D}T10:00:00Z"
KB100 = 100 * 1024


@dataclass
class Case:
    id: str
    what: str
    files: dict[str, list[Any] | bytes]  # file name -> rows (dict or raw line) or exact bytes
    expect: dict[str, int]
    check: Callable[[list[Any], list[Any]], None] | None = None
    header: bool = False  # CSV: each file's first line is a header, not a row

    @property
    def rows(self) -> int:
        """Rows as written: lines of each file (an unterminated last line counts)."""
        n = 0
        for content in self.files.values():
            if isinstance(content, bytes):
                n += len(content.decode("utf-8", errors="replace").splitlines()) - self.header
            else:
                n += len(content)
        return n


def _ev(cid: str, i: int, ts: str = T, event_type: str = "view", **kw: Any) -> dict[str, Any]:
    return event(f"{cid}-{i}", "u1", ts, event_type, **kw)


def _by_id(rows: list[Any]) -> dict[str, Any]:
    return {r["event_id"]: r for r in rows}


def _check_ts(expected: dict[str, dt.datetime]) -> Callable[[list[Any], list[Any]], None]:
    def check(events: list[Any], _q: list[Any]) -> None:
        got = {k: r["ts"] for k, r in _by_id(events).items()}
        assert {k: got.get(k) for k in expected} == expected

    return check


def _check_queries(events: list[Any], _q: list[Any]) -> None:
    rows = _by_id(events)
    for r in events:
        q = r["query"] or ""
        assert not any(unicodedata.category(ch) == "Cc" for ch in q), repr(q)
        assert q == q.strip() and "  " not in q, repr(q)
    assert rows["qt-0"]["query"] == "red shoes \U0001f45f"
    assert rows["qt-1"]["query"] == "кроссовки nike 运动鞋 أحذية रनिंग"
    assert rows["qt-2"]["query"] == "\U0001f469\u200d\U0001f4bb laptop 🔥"  # ZWJ sequence kept
    assert rows["qt-3"]["query"] == "[31mred shoes"  # ESC removed, the rest of the sequence kept
    assert rows["qt-4"]["query"] == "blue jeans"  # C1 control (CSI) removed
    assert rows["qt-5"]["user_agent"] == "Mozilla/5.0 x"


def _check_empty_optional(events: list[Any], _q: list[Any]) -> None:
    (row,) = events
    for f in ("item_id", "category_id", "query", "position", "is_sponsored", "price"):
        assert row[f] is None, f
    for f in ("device_hash", "ip_hash", "user_agent", "channel"):
        assert row[f] is None, f


def _check_details(quarantine: list[Any], expected: list[str]) -> None:
    assert sorted(r["detail"] for r in quarantine) == sorted(expected)


def _check_unknown_types(events: list[Any], _q: list[Any]) -> None:
    got = sorted(r["event_type"] for r in events)
    assert got == ["page_view", "search", "teleport", "🛒"], got


def _check_oversized(_e: list[Any], quarantine: list[Any]) -> None:
    details = sorted(r["detail"] for r in quarantine)
    assert details == [
        "event_id longer than 4096 chars",
        "query longer than 4096 chars",
        "user_agent longer than 4096 chars",
    ], details


def _check_dups(events: list[Any], _q: list[Any]) -> None:
    rows = _by_id(events)
    assert rows["dw-2"]["price"] == 5.0  # the first of the conflicting pair survives


def _check_dups_across(events: list[Any], _q: list[Any]) -> None:
    rows = _by_id(events)
    assert rows["da-1"]["source_file"].endswith("dup_across_files-a.jsonl")
    assert rows["da-2"]["price"] == 1.0
    assert rows["da-4"]["source_file"].endswith("dup_across_files-b.jsonl")  # a's copy was invalid


def _check_prices(events: list[Any], _q: list[Any]) -> None:
    prices = sorted(r["price"] for r in events)
    assert prices == [0.0, 0.0, 0.0, 12.5], prices


H = dt.datetime(2026, 11, 1)

CASES: list[Case] = [
    Case(
        "malformed_json",
        "broken, non-object and blank lines; an empty object",
        {
            "malformed_json.jsonl": [
                _ev("mj", 0),
                '{"event_id": "mj-1", "user_id"',
                "not json at all",
                "[1, 2, 3]",
                '"just a string"',
                "null",
                "",
                "   ",
                "{}",
            ]
        },
        {"accepted": 1, "malformed_record": 7, "missing_required_field": 1},
    ),
    Case(
        "truncated_file",
        "a file cut off mid-record (no final newline)",
        {
            "truncated_file.jsonl": (
                b'{"event_id": "tf-0", "user_id": "u1", "ts": "2026-11-01T10:00:00Z", '
                b'"event_type": "view"}\n{"event_id": "tf-1", "user_id": "u1", "ts": "2026-11-01T1'
            )
        },
        {"accepted": 1, "malformed_record": 1},
    ),
    Case(
        "truncated_mid_utf8",
        "a file cut off inside a multi-byte character",
        {
            "truncated_mid_utf8.jsonl": (
                '{"event_id": "tu-0", "user_id": "u1", "ts": "2026-11-01T10:00:00Z", '
                '"event_type": "search", "query": "caf\u00e9"}\n{"event_id": "tu-1", "query": "caf'
            ).encode()
            + "\u00e9".encode()[:1]
        },
        {"accepted": 1, "malformed_record": 1},
    ),
    Case(
        "utf8_bom",
        "a JSON-lines file starting with a UTF-8 byte-order mark",
        {
            "utf8_bom.jsonl": b"\xef\xbb\xbf"
            + (
                b'{"event_id": "bom-0", "user_id": "u1", "ts": "2026-11-01T10:00:00Z", '
                b'"event_type": "view"}\n{"event_id": "bom-1", "user_id": "u1", '
                b'"ts": "2026-11-01T10:01:00Z", "event_type": "view"}\n'
            )
        },
        {"accepted": 2},
    ),
    Case(
        "wrong_types",
        "position, is_sponsored and price of the wrong type; numbers as strings; numeric ids",
        {
            "wrong_types.jsonl": [
                _ev("wt", 0, position="third"),
                _ev("wt", 1, position=1.5),
                _ev("wt", 2, position=-1),
                _ev("wt", 3, is_sponsored="maybe"),
                _ev("wt", 4, price="abc"),
                _ev("wt", 5, price=True),
                _ev("wt", 6, position=[1]),
                _ev("wt", 7, position="3", price="12.5", is_sponsored="Y"),
                '{"event_id": 12345, "user_id": 678, "ts": "2026-11-01T10:00:00Z", '
                '"event_type": "view"}',
            ]
        },
        {"invalid_value": 7, "accepted": 2},
    ),
    Case(
        "missing_required",
        "each required field absent, null, empty or blank",
        {
            "missing_required.jsonl": [
                {"user_id": "u1", "ts": T, "event_type": "view"},
                {"event_id": "mr-1", "ts": T, "event_type": "view"},
                {"event_id": "mr-2", "user_id": "u1", "event_type": "view"},
                {"event_id": "mr-3", "user_id": "u1", "ts": T},
                {"event_id": "mr-4", "user_id": None, "ts": T, "event_type": "view"},
                {"event_id": "mr-5", "user_id": "u1", "ts": "", "event_type": "view"},
                {"event_id": "mr-6", "user_id": "u1", "ts": T, "event_type": "   "},
            ]
        },
        {"missing_required_field": 7},
        lambda _e, q: _check_details(
            q, ["event_id", "user_id", "ts", "event_type", "user_id", "ts", "event_type"]
        ),
    ),
    Case(
        "bad_prices",
        "NaN, infinities, negative and overflowing prices; zero and minus zero are valid",
        {
            "bad_prices.jsonl": [
                '{"event_id": "bp-0", "user_id": "u1", "ts": "2026-11-01T10:00:00Z", '
                '"event_type": "purchase", "price": NaN}',
                _ev("bp", 1, event_type="purchase", price="NaN"),
                _ev("bp", 2, event_type="purchase", price="Infinity"),
                _ev("bp", 3, event_type="purchase", price="-Infinity"),
                _ev("bp", 4, event_type="purchase", price=-0.01),
                _ev("bp", 5, event_type="purchase", price="1e309"),
                _ev("bp", 6, event_type="purchase", price=0),
                _ev("bp", 7, event_type="purchase", price=-0.0),
                _ev("bp", 8, event_type="purchase", price="0.0"),
                _ev("bp", 9, event_type="purchase", price=12.5),
            ]
        },
        {"invalid_price": 6, "accepted": 4},
        _check_prices,
    ),
    Case(
        "ts_future",
        "after the run's last date + future_skew_hours; within the skew it is another date",
        {
            "ts_future.jsonl": [
                _ev("tfu", 0, "2026-11-05T00:00:01Z"),
                _ev("tfu", 1, "2099-01-01T00:00:00Z"),
                _ev("tfu", 2, "2026-11-04T12:00:00Z"),
            ]
        },
        {"timestamp_in_future": 2, "wrong_date": 1},
    ),
    Case(
        "ts_before_2000",
        "before ingest.min_timestamp; the boundary itself is only another date",
        {
            "ts_before_2000.jsonl": [
                _ev("tb", 0, "1999-12-31T23:59:59Z"),
                _ev("tb", 1, "1970-01-01T00:00:00Z"),
                _ev("tb", 2, "1900-01-01T00:00:00Z"),
                _ev("tb", 3, "2000-01-01T00:00:00Z"),
            ]
        },
        {"timestamp_out_of_range": 3, "wrong_date": 1},
    ),
    Case(
        "ts_without_zone",
        "naive timestamps are read as UTC (ingest.naive_timestamps: utc)",
        {
            "ts_without_zone.jsonl": [
                _ev("tz", 0, "2026-11-01 08:00:00"),
                _ev("tz", 1, "2026-11-01T09:00:00"),
            ]
        },
        {"accepted": 2},
        _check_ts({"tz-0": H.replace(hour=8), "tz-1": H.replace(hour=9)}),
    ),
    Case(
        "ts_mixed_formats",
        "zone offsets, epoch s and ms, slashed and day-first formats, RFC 2822, US order",
        {
            "ts_mixed_formats.jsonl": [
                _ev("tm", 0, "2026-11-01T12:30:00+02:00"),
                _ev("tm", 1, "1793534400"),
                _ev("tm", 2, "1793534400000"),
                _ev("tm", 3, "2026/11/01 13:00:00"),
                _ev("tm", 4, "01/11/2026 14:00:00"),
                _ev("tm", 5, "2026-11-01T15:00:00.123Z"),
                _ev("tm", 6, "2026-11-01T05:00:00-05:00"),
                _ev("tm", 7, "2026-11-02T00:30:00+01:00"),  # = D 23:30 UTC
                _ev("tm", 8, "Sun, 01 Nov 2026 10:00:00 GMT"),
                _ev("tm", 9, "11/01/2026 10:00:00"),  # read day-first: 11 January, another date
            ]
        },
        {"accepted": 8, "unparseable_timestamp": 1, "wrong_date": 1},
        _check_ts(
            {
                "tm-0": H.replace(hour=10, minute=30),
                "tm-1": H.replace(hour=12),
                "tm-2": H.replace(hour=12),
                "tm-3": H.replace(hour=13),
                "tm-4": H.replace(hour=14),
                "tm-5": H.replace(hour=15, microsecond=123000),
                "tm-6": H.replace(hour=10),
                "tm-7": H.replace(hour=23, minute=30),
            }
        ),
    ),
    Case(
        "empty_strings",
        "empty optional fields become nulls; required ones are missing",
        {
            "empty_strings.jsonl": [
                _ev(
                    "es",
                    0,
                    item_id="",
                    category_id="",
                    query="",
                    position="",
                    is_sponsored="",
                    price="",
                    device_id="",
                    ip="",
                    user_agent="",
                    channel="",
                ),
                event("", "", "", ""),
            ]
        },
        {"accepted": 1, "missing_required_field": 1},
        _check_empty_optional,
    ),
    Case(
        "huge_strings",
        "100 KB query, user agent and event id are quarantined; 4096 chars are accepted",
        {
            "huge_strings.jsonl": [
                _ev("hs", 0, event_type="search", query="x" * KB100),
                _ev("hs", 1, user_agent="a" * KB100),
                event("hs-2" + "e" * KB100, "u1", T),
                _ev("hs", 3, event_type="search", query="y" * 4096),
            ]
        },
        {"oversized_field": 3, "accepted": 1},
        _check_oversized,
    ),
    Case(
        "query_text",
        "control characters, emoji, ZWJ sequences, mixed scripts and RTL in search queries",
        {
            "query_text.jsonl": [
                _ev("qt", 0, event_type="search", query="  Red\tShoes\u0000\u0007 \U0001f45f \r\n"),
                _ev("qt", 1, event_type="search", query="Кроссовки NIKE 运动鞋 أحذية रनिंग"),
                _ev("qt", 2, event_type="search", query="\U0001f469\u200d\U0001f4bb laptop 🔥"),
                _ev("qt", 3, event_type="search", query="\u001b[31mRed shoes"),
                _ev("qt", 4, event_type="search", query="blue\u009bjeans"),
                _ev("qt", 5, user_agent="Mozilla/5.0\u0000 x"),
            ]
        },
        {"accepted": 6},
        _check_queries,
    ),
    Case(
        "dup_within_file",
        "exact duplicates, a whitespace/case-only duplicate and a conflicting duplicate",
        {
            "dup_within_file.jsonl": [
                _ev("dw", 1),
                _ev("dw", 1),
                _ev("dw", 1),
                _ev("dw", 2, price=5.0),
                _ev("dw", 2, price=6.0),
                _ev("dw", 3, event_type="View"),
                event("dw-3", " u1 ", "2026-11-01T10:00:00.000Z", " view "),
            ]
        },
        {"accepted": 3, "duplicate": 3, "conflicting_duplicate": 1},
        _check_dups,
    ),
    Case(
        "dup_across_files",
        "duplicates across files: the first file wins; an invalid first copy does not count",
        {
            "dup_across_files-a.jsonl": [
                _ev("da", 1),
                _ev("da", 2, price=1.0),
                _ev("da", 4, "not a time"),
            ],
            "dup_across_files-b.jsonl": [
                _ev("da", 1),
                _ev("da", 2, price=2.0),
                _ev("da", 3),
                _ev("da", 4),
            ],
        },
        {
            "accepted": 4,
            "duplicate": 1,
            "conflicting_duplicate": 1,
            "unparseable_timestamp": 1,
        },
        _check_dups_across,
    ),
    Case(
        "unknown_event_types",
        "open vocabulary: unknown types are accepted and normalized (the default policy)",
        {
            "unknown_event_types.jsonl": [
                _ev("ut", 0, event_type="teleport"),
                _ev("ut", 1, event_type="PAGE  VIEW"),
                _ev("ut", 2, event_type="Search"),
                _ev("ut", 3, event_type="🛒"),
            ]
        },
        {"accepted": 4},
        _check_unknown_types,
    ),
    Case(
        "wrong_date",
        "valid timestamps outside the run's dates; the day's first and last instants",
        {
            "wrong_date.jsonl": [
                _ev("wd", 0, "2026-10-31T23:59:59Z"),
                _ev("wd", 1, "2026-11-01T00:00:00Z"),
                _ev("wd", 2, "2026-11-01T23:59:59.999Z"),
            ]
        },
        {"wrong_date": 1, "accepted": 2},
    ),
    Case(
        "json_schema_drift",
        "an extra field is ignored; a renamed or re-cased required field is missing",
        {
            "json_schema_drift.jsonl": [
                {**_ev("jd", 0), "session_hint": "abc", "nested": {"a": [1, 2]}},
                {"event_id": "jd-1", "userId": "u1", "ts": T, "event_type": "view"},
                {"event_id": "jd-2", "USER_ID": "u1", "ts": T, "event_type": "view"},
            ]
        },
        {"accepted": 1, "missing_required_field": 2},
    ),
]

#: Cases that need a run of their own (a policy other than the defaults).
STRICT_CASES: list[Case] = [
    Case(
        "ts_without_zone_rejected",
        "naive timestamps with ingest.naive_timestamps: reject",
        {"ts_without_zone_rejected.jsonl": [_ev("tzr", 0, "2026-11-01 08:00:00"), _ev("tzr", 1)]},
        {"unparseable_timestamp": 1, "accepted": 1},
    ),
    Case(
        "unknown_event_types_rejected",
        "unknown types with ingest.allow_unknown_event_types: false",
        {
            "unknown_event_types_rejected.jsonl": [
                _ev("utr", 0, event_type="teleport"),
                _ev("utr", 1, event_type=" Add To Cart "),
            ]
        },
        {"unknown_event_type": 1, "accepted": 1},
    ),
]
