"""The output checks against real Delta tables (written with delta-rs, stats included)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake
from ubsd_airflow.checks import CheckError, check_outputs, check_partition, check_summary

NOW = dt.datetime(2026, 11, 2, 3, 0, 0, tzinfo=dt.UTC)


def _table(path: Path, rows: dict[str, tuple[int, str]], mode: str = "error") -> str:
    """A date-partitioned Delta table: {date: (rows, run_id)}."""
    dates, run_ids = [], []
    for date, (n, run_id) in rows.items():
        dates += [dt.date.fromisoformat(date)] * n
        run_ids += [run_id] * n
    ids = [f"e{i}" for i in range(len(dates))]
    data = pa.table({"event_id": ids, "run_id": run_ids, "date": dates})
    write_deltalake(str(path), data, partition_by=["date"], mode=mode)
    return str(path)


def _summary(folder: Path, **fields) -> Path:
    body = {
        "job": "ingest",
        "run_id": "r2",
        "dates": ["2026-11-01"],
        "processed_at": "2026-11-02T03:00:05Z",
        "status": "ok",
        **fields,
    }
    path = folder / "latest.json"
    path.write_text(json.dumps(body))
    return path


def test_fresh_ok_summary_passes_and_stale_failed_or_missing_ones_do_not(tmp_path):
    ok = check_summary(_summary(tmp_path), job="ingest", dates=["2026-11-01"], started=NOW)
    assert ok["run_id"] == "r2"
    with pytest.raises(CheckError, match="no run summary"):
        check_summary(tmp_path / "nope.json", job="ingest", dates=None, started=NOW)
    stale = _summary(tmp_path, processed_at="2026-11-01T03:00:00Z")
    with pytest.raises(CheckError, match="stale"):
        check_summary(stale, job="ingest", dates=None, started=NOW)
    failed = _summary(tmp_path, status="failed", error="QuarantineRateError: 31% > 20%")
    with pytest.raises(CheckError, match="31% > 20%"):
        check_summary(failed, job="ingest", dates=None, started=NOW)
    with pytest.raises(CheckError, match="expected"):
        check_summary(_summary(tmp_path), job="ingest", dates=["2026-11-02"], started=NOW)
    # clocks may differ a little between the Airflow worker and the Spark driver
    early = _summary(tmp_path, processed_at="2026-11-02T02:59:00Z")
    assert check_summary(early, job="ingest", dates=None, started=NOW, tolerance_s=120)


def test_partition_must_exist_be_this_runs_and_hold_the_reported_rows(tmp_path):
    table = _table(tmp_path / "events", {"2026-11-01": (5, "r2"), "2026-10-31": (3, "r1")})
    stats = check_partition(table, "2026-11-01", run_id="r2", expected_rows=5)
    assert stats == {"files": 1, "rows": 5, "run_ids": ["r2"]}
    with pytest.raises(CheckError, match="no partition date=2026-11-02"):
        check_partition(table, "2026-11-02", run_id="r2", expected_rows=None)
    with pytest.raises(CheckError, match=r"written by \['r1'\], not r2"):
        check_partition(table, "2026-10-31", run_id="r2", expected_rows=3)
    with pytest.raises(CheckError, match="5 rows, the run summary says 6"):
        check_partition(table, "2026-11-01", run_id="r2", expected_rows=6)
    with pytest.raises(CheckError, match="fewer than 10"):
        check_partition(table, "2026-11-01", run_id="r2", expected_rows=None, min_rows=10)
    with pytest.raises(CheckError, match="cannot read the Delta table"):
        check_partition(str(tmp_path / "missing"), "2026-11-01", run_id="r2", expected_rows=None)


def test_outputs_follow_the_job_spec(tmp_path):
    table = _table(tmp_path / "windows", {"2026-11-01": (4, "r2"), "2026-11-02": (2, "r2")})
    summary = {
        "run_id": "r2",
        "tables": {"windows": table},
        "windows_per_date": {"2026-11-01": 4, "2026-11-02": 2},
    }
    got = check_outputs("sessionize", summary, ["2026-11-01", "2026-11-02"], min_rows=1)
    assert {d: s["rows"] for d, s in got.items()} == {"2026-11-01": 4, "2026-11-02": 2}
    assert check_outputs("score", {"run_id": "r2"}, ["2026-11-01"], min_rows=1) == {}
    with pytest.raises(CheckError, match="names no 'events' table"):
        check_outputs("ingest", {"run_id": "r2", "tables": {}}, ["2026-11-01"], min_rows=1)


def test_doctests_of_the_support_code():
    import doctest

    import ubsd_airflow.checks
    import ubsd_airflow.training

    for module in (ubsd_airflow.checks, ubsd_airflow.training):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__
