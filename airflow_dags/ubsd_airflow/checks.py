"""Checks that a Spark task really produced its output; Airflow-free, so they are unit-tested.

spark-submit's exit status is not proof: in YARN or Kubernetes cluster mode it reports the
submission, and a driver can exit 0 without writing. So after each Spark task a check reads the
run summary the job wrote (``<root>/runs/<job>/<label>/latest.json``) and requires it to be
*this* run's (written after the task started), successful and for the expected dates; where the
job has an output table it then reads the Delta log (delta-rs, no Spark) and requires the date's
partition to exist, to have been written by that run (``run_id`` column statistics) and to hold
the row count the summary reports.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class CheckError(RuntimeError):
    """The output of a Spark task is missing, stale or inconsistent."""


@dataclass(frozen=True)
class OutputSpec:
    """What a job's output looks like: the summary's table key and per-date count key."""

    table: str | None = None  # key in summary["tables"]
    count: str | None = None  # summary key holding {date: rows}


#: One entry per job. Jobs without a table here are checked on their summary only.
OUTPUTS: dict[str, OutputSpec] = {
    "ingest": OutputSpec(table="events", count="accepted_per_date"),
    "sessionize": OutputSpec(table="windows", count="windows_per_date"),
}


def _utc(value: str) -> dt.datetime:
    """Parse an ISO timestamp; naive ones are UTC.

    >>> _utc("2026-11-02T03:04:05Z").isoformat()
    '2026-11-02T03:04:05+00:00'
    """
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def check_summary(
    path: Path,
    *,
    job: str,
    dates: list[str] | None,
    started: dt.datetime,
    tolerance_s: float = 120,
) -> dict[str, Any]:
    """The run summary at ``path``, if it is this run's, successful and for ``dates``."""
    if not path.is_file():
        raise CheckError(f"{job}: no run summary at {path}: the job did not run to its end")
    summary = json.loads(path.read_text(encoding="utf-8"))
    written = _utc(summary["processed_at"])
    if written < started - dt.timedelta(seconds=tolerance_s):
        raise CheckError(
            f"{job}: the run summary at {path} is stale (run {summary.get('run_id')} at "
            f"{written.isoformat()}, task started {started.isoformat()}): this attempt wrote none"
        )
    if summary.get("status") != "ok":
        raise CheckError(f"{job}: run {summary.get('run_id')} failed: {summary.get('error')}")
    if dates is not None and summary.get("dates") != dates:
        raise CheckError(f"{job}: summary covers {summary.get('dates')}, expected {dates}")
    return summary


def _delta_uri(path: str) -> str:
    """delta-rs names Hadoop's s3a:// and s3n:// schemes s3://.

    >>> _delta_uri("s3a://lake/ubsd/tables/events")
    's3://lake/ubsd/tables/events'
    """
    for scheme in ("s3a://", "s3n://"):
        if path.startswith(scheme):
            return "s3://" + path[len(scheme) :]
    return path


def partition_stats(table: str, date: str) -> dict[str, Any]:
    """Rows, files and writer run ids of one ``date`` partition, from the Delta log only."""
    from deltalake import DeltaTable  # imported when a check runs, not when the DAG parses

    try:
        actions = DeltaTable(_delta_uri(table)).get_add_actions(flatten=True)
    except Exception as exc:  # a missing table or log raises several kinds of errors
        raise CheckError(f"cannot read the Delta table {table}: {exc}") from exc
    names = actions.column_names
    dates = [str(d) for d in actions.column("partition.date").to_pylist()]
    keep = [i for i, d in enumerate(dates) if d == date]

    def values(column: str) -> list[Any]:
        if column not in names:
            return []
        col = actions.column(column).to_pylist()
        return [col[i] for i in keep]

    counts = values("num_records")
    return {
        "files": len(keep),
        "rows": sum(counts) if counts and None not in counts else None,
        "run_ids": sorted({v for v in values("min.run_id") + values("max.run_id") if v}),
    }


def check_partition(
    table: str, date: str, *, run_id: str, expected_rows: int | None, min_rows: int = 1
) -> dict[str, Any]:
    """The ``date`` partition of ``table`` exists, was written by ``run_id``, has the rows."""
    stats = partition_stats(table, date)
    if stats["files"] == 0:
        raise CheckError(f"{table}: no partition date={date}")
    if stats["run_ids"] and stats["run_ids"] != [run_id]:
        raise CheckError(f"{table} date={date} was written by {stats['run_ids']}, not {run_id}")
    rows = stats["rows"]
    if expected_rows is not None and rows is not None and rows != expected_rows:
        raise CheckError(f"{table} date={date}: {rows} rows, the run summary says {expected_rows}")
    if rows is not None and rows < min_rows:
        raise CheckError(f"{table} date={date}: {rows} rows, fewer than {min_rows}")
    return stats


def check_outputs(job: str, summary: dict[str, Any], dates: list[str], min_rows: int) -> dict:
    """Partition checks for every date of a job that has a table in :data:`OUTPUTS`."""
    spec = OUTPUTS.get(job)
    if spec is None or spec.table is None:
        return {}
    table = summary.get("tables", {}).get(spec.table)
    if not table:
        raise CheckError(f"{job}: the summary names no {spec.table!r} table")
    per_date = summary.get(spec.count, {}) if spec.count else {}
    return {
        d: check_partition(
            table, d, run_id=summary["run_id"], expected_rows=per_date.get(d), min_rows=min_rows
        )
        for d in dates
    }
