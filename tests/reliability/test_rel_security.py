"""Security: raw IPs (v4 and v6) and device ids leave ingest only as keyed hashes, the key never
shows (tables, quarantine, summaries, plans, event logs, job output), and configured or CLI paths
cannot escape the storage root.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from helpers import event, write_jsonl
from reliability_kit import delta_version, run_in_process, run_job, settings_for, write_conf

from ubsd.ingest.hashing import keyed_hash_value
from ubsd.io.paths import UnsafePathError, resolve_under

D = "2026-11-01"
T = f"{D}T10:00:00Z"
IPS = ["203.0.113.7", "198.51.100.23", "2001:db8::7", "2001:db8:0:0:0:0:0:8", "fe80::1"]
DEVICES = ["dev-secret-41", "dev-secret-42"]


def _leaky_input(folder: Path) -> Path:
    rows = [
        event("s-0", "u1", T, ip=IPS[0], device_id=DEVICES[0]),
        event("s-1", "u1", f"{D}T10:01:00Z", ip=IPS[2], device_id=DEVICES[1]),
        event("s-2", "u2", "not a time", ip=IPS[1], device_id=DEVICES[0]),
        event("s-3", "u2", "bad", ip=IPS[3], user_agent=f"proxy for {IPS[4]} and {IPS[1]}"),
        '{"event_id": "s-4", "user_id": "u3", "ip": "' + IPS[2],  # truncated mid-value
        '{"event_id": "s-5", "device_id": "' + DEVICES[1] + '", "ip": "' + IPS[0],
        f"garbage line from {IPS[3]} / {IPS[0]}",
    ]
    return write_jsonl(folder / "part-0.jsonl", rows)


def _leaks(text: str, key: str | None = None) -> list[str]:
    found = [v for v in (*IPS, *DEVICES) if v in text]
    if key and key in text:
        found.append("<the hash key>")
    return found


@pytest.fixture(scope="module")
def secure_job_run(tmp_path_factory):
    """One ingest job as a user runs it, with a real secret key and Spark's event log on."""
    root = tmp_path_factory.mktemp("secure")
    _leaky_input(root / "raw" / f"date={D}")
    key = "k-" + secrets.token_hex(16)
    eventlog = root / "eventlog"
    eventlog.mkdir()
    conf = write_conf(
        root,
        spark_conf={
            "spark.eventLog.enabled": "true",
            "spark.eventLog.compress": "false",  # searchable as text
            "spark.eventLog.dir": str(eventlog),
        },
        dev_key=False,
    )
    proc = run_job("ingest", conf, "--date", D, UBSD_HASH_SECRET=key, UBSD_LOG_LEVEL="DEBUG")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"root": root, "key": key, "proc": proc, "eventlog": eventlog}


def test_tables_hold_only_keyed_hashes(spark, secure_job_run, record):
    root, key = secure_job_run["root"], secure_job_run["key"]
    events = spark.read.format("delta").load(str(root / "tables" / "events"))
    rows = [r.asDict() for r in events.collect()]
    assert len(rows) == 2
    by_id = {r["event_id"]: r for r in rows}
    assert by_id["s-0"]["ip_hash"] == keyed_hash_value(IPS[0], key.encode())
    assert by_id["s-1"]["ip_hash"] == keyed_hash_value(IPS[2], key.encode())
    assert by_id["s-1"]["device_hash"] == keyed_hash_value(DEVICES[1], key.encode())
    assert _leaks(json.dumps(rows, default=str), key) == []
    q = spark.read.format("delta").load(str(root / "tables" / "quarantine"))
    qrows = [r.asDict() for r in q.collect()]
    assert len(qrows) == 5
    assert _leaks(json.dumps(qrows, default=str, ensure_ascii=False), key) == []
    assert all("<redacted>" in r["raw"] or "<ip-redacted>" in r["raw"] for r in qrows)
    record(
        "no_raw_ids_in_tables",
        "security",
        rows_read=7,
        accepted=2,
        quarantined=5,
        duplicate=0,
        outcome="events carry HMAC hashes under the env key; quarantine raw text masked "
        "(IPv4, IPv6 full and compressed, truncated values)",
    )


def test_key_and_raw_ids_stay_out_of_output_summaries_and_event_log(secure_job_run, record):
    root, key, proc = secure_job_run["root"], secure_job_run["key"], secure_job_run["proc"]
    assert _leaks(proc.stdout, key) == [] and _leaks(proc.stderr, key) == []
    summaries = list((root / "runs").rglob("*.json"))
    assert summaries
    for f in summaries:
        text = f.read_text()
        assert _leaks(text, key) == [] and "UBSD_HASH_SECRET=" not in text, f
    logs = [p for p in secure_job_run["eventlog"].rglob("*") if p.is_file()]
    assert logs, "Spark wrote no event log"
    text = "\n".join(p.read_text(errors="replace") for p in logs)
    assert "SparkListenerSQLExecutionStart" in text and "physicalPlanDescription" in text
    assert _leaks(text, key) == []
    record(
        "no_key_or_raw_ids_in_logs",
        "security",
        outcome=f"job stdout/stderr (DEBUG), {len(summaries)} run summaries and the Spark event "
        f"log ({len(text) // 1024} KB, every query plan) hold neither the key nor a raw id",
    )


def test_key_is_not_in_query_plans(spark, tmp_path, monkeypatch, record):
    from pyspark.sql import functions as F

    from ubsd.ingest.hashing import keyed_hash
    from ubsd.ingest.job import prepare, scrub_raw
    from ubsd.ingest.readers import SchemaDrift, read_raw
    from ubsd.runs import run_dates

    key = "k-" + secrets.token_hex(16)
    monkeypatch.setenv("UBSD_PLAN_TEST_KEY", key)
    path = _leaky_input(tmp_path / "raw" / f"date={D}")
    settings = settings_for(tmp_path, "ingest.hash_key_env=UBSD_PLAN_TEST_KEY")
    dates = run_dates(date=D)
    raw = read_raw(spark, {dates[0]: str(path)}, "json", SchemaDrift())
    rows = prepare(raw, settings, dates)
    out = rows.select(
        keyed_hash(F.col("ip"), "UBSD_PLAN_TEST_KEY", False).alias("ip_hash"),
        keyed_hash(F.col("device_id"), "UBSD_PLAN_TEST_KEY", False).alias("device_hash"),
        scrub_raw(F.col("raw")).alias("raw"),
    )
    # Plans only: the key lives in the workers' environment (the job test checks the hashes).
    plan = out._jdf.queryExecution().toString()
    assert "ip_hash" in plan and "== Physical Plan ==" in plan and key not in plan
    record("no_key_in_query_plan", "security", outcome="parsed, analyzed, optimized, physical")


# --- paths -----------------------------------------------------------------------------------


def _escape_cases(root: Path) -> list[tuple[str, str]]:
    outside = root.parent / f"{root.name}-outside"
    outside.mkdir(exist_ok=True)
    (root / "tables").mkdir(parents=True, exist_ok=True)
    link = root / "tables" / "linked"
    if not link.is_symlink():
        link.symlink_to(outside, target_is_directory=True)
    return [
        ("dotdot", "../elsewhere"),
        ("dotdot_deep", "tables/../../elsewhere"),
        ("absolute_outside", "/etc"),
        ("absolute_sibling_prefix", f"{root}-outside/x"),  # shares the root's name as a prefix
        ("home", "~/ubsd"),
        ("symlink_out", "tables/linked"),
        ("symlink_out_below", "tables/linked/events"),
    ]


def test_paths_cannot_escape_the_root(tmp_path, record):
    root = tmp_path / "root"
    root.mkdir()
    cases = _escape_cases(root)
    for name, rel in cases:
        with pytest.raises(UnsafePathError):
            resolve_under(str(root), rel)
        record(f"path_{name}", "security", outcome=f"refused: {rel!r}")
    assert resolve_under(str(root), f"{root}/tables/events") == f"{root}/tables/events"
    assert resolve_under(str(root), "tables/./x/../events") == f"{root}/tables/events"
    for rel in ("../other", "s3a://bucket/ubsd-evil/t", "s3a://other/ubsd/t", "file:///etc"):
        with pytest.raises(UnsafePathError):
            resolve_under("s3a://bucket/ubsd", rel)
    assert resolve_under("s3a://bucket/ubsd", "tables/events") == "s3a://bucket/ubsd/tables/events"
    record("path_uri_escapes", "security", outcome="refused: .., sibling bucket prefix, other URI")


@pytest.mark.parametrize(
    "override",
    [
        "storage.events_table=../escaped",
        "storage.quarantine_table=/tmp/ubsd-escaped",
        "storage.input_path=../raw/date={date}",
        "storage.events_table=tables/linked",
    ],
)
def test_configured_paths_cannot_escape_and_nothing_is_written(spark, tmp_path, override, record):
    root = tmp_path / "root"
    root.mkdir()
    _escape_cases(root)
    write_jsonl(root / "raw" / f"date={D}" / "p.jsonl", [event("p-0", "u1", T)])
    settings = settings_for(root, override)
    with pytest.raises(UnsafePathError, match="escapes the storage root"):
        run_in_process(spark, "ingest", settings, date=D)
    outside = [p for p in tmp_path.rglob("*") if root not in p.parents and p != root]
    assert [p for p in outside if p.is_file()] == []
    assert delta_version(spark, str(root / "tables" / "events")) is None
    record(f"config_{override.split('=')[0]}", "security", outcome=f"refused: {override}")


@pytest.mark.slow
def test_cli_path_escape_exits_non_zero(tmp_path, record):
    root = tmp_path / "root"
    root.mkdir()
    write_jsonl(root / "raw" / f"date={D}" / "p.jsonl", [event("p-0", "u1", T)])
    conf = write_conf(root)
    proc = run_job("ingest", conf, "--date", D, "--set", f"storage.events_table={tmp_path}/escaped")
    assert proc.returncode == 1 and "escapes the storage root" in proc.stderr
    assert not (tmp_path / "escaped").exists()
    record(
        "cli_path_escape", "security", outcome="jobs/ingest.py --set ...: exit 1, nothing written"
    )
