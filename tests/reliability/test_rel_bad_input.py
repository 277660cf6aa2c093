"""Bad input, counted: every row of every case ends in exactly one bucket, with its reason.

All JSON cases share one range run (D .. D+2: D+1 has an empty file, D+2 no input), so the
cost is one ingest; each case is then checked on its own rows (by source file). Rows lost per
case = rows written to the input - events rows - quarantine rows - the case's true duplicates.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import pytest
from bad_input_cases import CASES, STRICT_CASES, Case, D
from reliability_kit import (
    delta_version,
    job_cmd,
    job_env,
    run_in_process,
    settings_for,
    table_path,
    write_conf,
)

from ubsd.ingest import IngestError
from ubsd.io.schemas import EVENTS_SCHEMA, QUARANTINE_SCHEMA
from ubsd.io.tables import read_table

D1, D2 = "2026-11-02", "2026-11-03"


def _write_case_files(folder: Path, cases: list[Case]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for case in cases:
        for name, content in case.files.items():
            if isinstance(content, bytes):
                (folder / name).write_bytes(content)
            else:
                from helpers import write_jsonl

                write_jsonl(folder / name, content)


def _tables(spark, settings) -> tuple[list, list]:
    fmt = settings.storage.format
    events = read_table(spark, table_path(settings, "events"), fmt, EVENTS_SCHEMA).collect()
    q = read_table(spark, table_path(settings, "quarantine"), fmt, QUARANTINE_SCHEMA).collect()
    return events, q


def _own(rows: list, case: Case) -> list:
    return [r for r in rows if (r["source_file"] or "").rsplit("/", 1)[-1] in case.files]


def check_case(case: Case, events: list, quarantine: list, record, outcome: str) -> None:
    """Assert each row's fate and record the case (rows lost must be 0)."""
    ev, q = _own(events, case), _own(quarantine, case)
    observed = Counter({"accepted": len(ev)}) + Counter(r["reason"] for r in q)
    dups = case.expect.get("duplicate", 0)
    lost = case.rows - len(ev) - len(q) - dups
    record(
        case.id,
        "bad_input",
        what=case.what,
        rows_read=case.rows,
        accepted=len(ev),
        quarantined=len(q),
        duplicate=dups,
        filtered=0,
        rows_lost=lost,
        reasons=dict(sorted(Counter(r["reason"] for r in q).items())),
        outcome=outcome,
    )
    expected = Counter({k: v for k, v in case.expect.items() if k != "duplicate"})
    assert +observed == +expected, f"{case.id}: got {dict(observed)}, expected {dict(expected)}"
    assert lost == 0
    for r in q:
        assert r["detail"], f"{case.id}: quarantined row without detail ({r['reason']})"
    if case.check:
        case.check(ev, q)


@pytest.fixture(scope="module")
def json_run(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("bad-json")
    _write_case_files(root / "raw" / f"date={D}", CASES)
    (root / "raw" / f"date={D1}").mkdir(parents=True)
    (root / "raw" / f"date={D1}" / "part-0.jsonl").write_bytes(b"")  # an empty day
    settings = settings_for(root, "ingest.missing_input=empty")
    summary = run_in_process(spark, "ingest", settings, start=D, end=D2)
    events, q = _tables(spark, settings)
    return {"settings": settings, "summary": summary, "events": events, "quarantine": q}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_json_case(json_run, case, record):
    check_case(case, json_run["events"], json_run["quarantine"], record, "finished")


def test_json_run_reconciles_and_handles_empty_and_missing_days(json_run, record):
    s = json_run["summary"]
    read = sum(c.rows for c in CASES)
    dups = sum(c.expect.get("duplicate", 0) for c in CASES)
    assert s["rows_read"] == read and s["reconciled"] is True
    assert s["accepted"] + s["quarantined"] + s["duplicate"] + s["filtered"] == read
    assert s["duplicate"] == dups
    assert s["missing_input_dates"] == [D2]
    assert set(s["accepted_per_date"]) == {D}
    assert not [r for r in json_run["events"] if r["date"].isoformat() != D]
    assert not [r for r in json_run["quarantine"] if r["date"].isoformat() != D]
    record(
        "empty_day",
        "bad_input",
        what="an input folder holding an empty file",
        rows_read=0,
        accepted=0,
        quarantined=0,
        duplicate=0,
        outcome="finished: date written empty",
    )
    record(
        "missing_day_empty_policy",
        "bad_input",
        what="no input folder for a run date, ingest.missing_input: empty",
        rows_read=0,
        accepted=0,
        quarantined=0,
        duplicate=0,
        outcome=f"finished: {D2} written empty, listed in missing_input_dates",
    )


def test_missing_day_fails_by_default_and_writes_nothing(spark, json_run, record):
    settings = settings_for(Path(json_run["settings"].storage.root))  # missing_input: fail
    paths = [table_path(settings, t) for t in ("events", "quarantine")]
    before = [delta_version(spark, p) for p in paths]
    with pytest.raises(IngestError, match="no input for 2026-11-09"):
        run_in_process(spark, "ingest", settings, date="2026-11-09")
    assert [delta_version(spark, p) for p in paths] == before
    record(
        "missing_day_fails",
        "bad_input",
        what="no input for the run date, ingest.missing_input: fail (default)",
        rows_read=0,
        outcome="failed as configured: IngestError 'no input for ...'; no table version added",
    )


def test_nonexistent_calendar_date_is_refused(tmp_path, record):
    conf = write_conf(tmp_path)
    proc = subprocess.run(
        job_cmd("ingest", conf, "--date", "2026-02-30"),
        env=job_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2 and "--date must be a date" in proc.stderr
    assert not (tmp_path / "tables").exists()
    record(
        "nonexistent_calendar_date",
        "bad_input",
        what="--date 2026-02-30",
        rows_read=0,
        outcome="refused: exit 2 before Spark starts",
    )


def test_strict_policies(spark, tmp_path, record):
    _write_case_files(tmp_path / "raw" / f"date={D}", STRICT_CASES)
    settings = settings_for(
        tmp_path, "ingest.naive_timestamps=reject", "ingest.allow_unknown_event_types=false"
    )
    s = run_in_process(spark, "ingest", settings, date=D)
    assert s["reconciled"] and s["rows_read"] == sum(c.rows for c in STRICT_CASES)
    events, q = _tables(spark, settings)
    for case in STRICT_CASES:
        check_case(case, events, q, record, "finished")


CSV_CASES = [
    Case(
        "csv_stray_prefix",
        "bytes before the CSV header (as in TalkingData's sample) and an extra column",
        {
            "stray.csv": (
                "..event_id,user_id,ts,event_type,price,extra_col\n"
                f"cp-0,u1,{D}T10:00:00Z,view,3.5,zzz\n"
                f"cp-1,u1,{D}T10:01:00Z,purchase,-1,zzz\n"
                f"cp-2,u2,{D}T10:02:00Z,click,,\n"
            ).encode()
        },
        {"accepted": 2, "invalid_price": 1},
        header=True,
    ),
    Case(
        "csv_missing_columns",
        "only the required columns",
        {
            "missing.csv": (
                "event_id,user_id,ts,event_type\n"
                f"cm-0,u1,{D1}T10:00:00Z,view\ncm-1,u1,{D1}T11:00:00Z,view\n"
            ).encode()
        },
        {"accepted": 2},
        header=True,
    ),
    Case(
        "csv_renamed_column",
        "a required column under another name",
        {
            "renamed.csv": (
                "event_id,user,ts,event_type\n"
                f"cr-0,u1,{D2}T10:00:00Z,view\ncr-1,u1,{D2}T11:00:00Z,view\n"
            ).encode()
        },
        {"missing_required_field": 2},
        header=True,
    ),
]


def test_csv_schema_drift(spark, tmp_path, record):
    for i, case in enumerate(CSV_CASES):  # one date each: each date's files share one header
        _write_case_files(tmp_path / "raw" / f"date={[D, D1, D2][i]}", [case])
    settings = settings_for(tmp_path, "ingest.input_format=csv")
    s = run_in_process(spark, "ingest", settings, start=D, end=D2)
    drift = s["schema_drift"]
    assert drift["repaired_columns"] == {"..event_id": "event_id"}
    assert {"extra_col", "user"} <= set(drift["extra_columns"])
    assert s["reconciled"] and s["rows_read"] == sum(c.rows for c in CSV_CASES)
    events, q = _tables(spark, settings)
    for case in CSV_CASES:
        check_case(case, events, q, record, f"finished; drift recorded: {drift}")


def test_csv_files_with_different_headers_fail_loudly(spark, tmp_path, record):
    folder = tmp_path / "raw" / f"date={D}"
    folder.mkdir(parents=True)
    (folder / "a.csv").write_text(f"event_id,user_id,ts,event_type\nca-0,u1,{D}T10:00:00Z,view\n")
    (folder / "b.csv").write_text(f"user_id,ts,event_id,event_type\nu2,{D}T11:00:00Z,cb-0,view\n")
    settings = settings_for(tmp_path, "ingest.input_format=csv")
    with pytest.raises(Exception, match=r"b\.csv") as err:
        run_in_process(spark, "ingest", settings, date=D)
    assert "conform" in str(err.value) or "header" in str(err.value).lower()
    assert delta_version(spark, table_path(settings, "events")) is None
    record(
        "csv_headers_differ_between_files",
        "bad_input",
        what="two CSV files of one day with their columns in different orders",
        rows_read=0,
        outcome="failed loudly (CSV header does not conform), nothing written, the 2 input rows "
        "left for a rerun. Before the fix the second file was mapped by position: user ids "
        "became event ids",
    )
