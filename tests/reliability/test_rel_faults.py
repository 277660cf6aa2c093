"""Faults: reruns give identical tables; a job SIGKILLed mid-write leaves the old partition (never a
mix) and other dates untouched, and its rerun equals a clean run; two writers of one date at
once: one wins cleanly, or the other fails with Delta's concurrency error.
"""

from __future__ import annotations

import os
import signal
import subprocess

import pytest
from reliability_kit import (
    REPO,
    checksums,
    day_rows,
    delta_version,
    job_cmd,
    job_env,
    kill_mid_write,
    latest_summary,
    run_in_process,
    run_job,
    settings_for,
    table_path,
    write_conf,
    write_day,
)

A, B = "2026-11-01", "2026-11-02"
TABLES = ("events", "quarantine", "windows")


def _snap(spark, settings) -> dict[str, dict]:
    return {t: checksums(spark, table_path(settings, t)) for t in TABLES}


def test_every_job_twice_for_the_same_date_gives_identical_tables(spark, tmp_path, record):
    write_day(tmp_path, A, day_rows(A, 1000, "a"))
    write_day(tmp_path, B, day_rows(B, 1000, "b"))
    settings = settings_for(tmp_path)
    for job in ("ingest", "sessionize"):
        run_in_process(spark, job, settings, start=A, end=B)
    first = _snap(spark, settings)
    for job in ("ingest", "sessionize"):
        run_in_process(spark, job, settings, start=A, end=B)
    second = _snap(spark, settings)
    for table in TABLES:
        assert first[table] and first[table] == second[table], table
        rows = sum(n for n, _ in second[table].values())
        record(
            f"rerun_{table}",
            "rerun",
            outcome=f"identical: {rows} rows, per-date checksums over all but run_id/processed_at",
        )


@pytest.mark.slow
@pytest.mark.timeout(3600)  # ten Spark runs of 200,000 rows: under 10 min idle, over 20 under load
def test_sigkill_mid_write_then_rerun(spark, tmp_path, record):
    n_new = int(os.environ.get("UBSD_RELIABILITY_KILL_ROWS", "200000"))
    write_day(tmp_path, A, day_rows(A, 2000, "a"))
    write_day(tmp_path, B, day_rows(B, 2000, "old"))
    settings = settings_for(tmp_path)
    for job in ("ingest", "sessionize"):
        run_in_process(spark, job, settings, start=A, end=B)
    s0 = _snap(spark, settings)
    write_day(tmp_path, B, day_rows(B, n_new, "new", users=500))
    # Many write tasks, not coalesced by adaptive execution: with one or two tasks the commit
    # follows the first data file within milliseconds and the kill can land after it.
    conf = write_conf(
        tmp_path, spark_conf={"spark.sql.adaptive.coalescePartitions.enabled": "false"}
    )
    many = ("--set", "spark.shuffle_partitions=16")

    for job, table in (("ingest", "events"), ("sessionize", "windows")):
        before = _snap(spark, settings)
        version = delta_version(spark, table_path(settings, table))
        cmd = job_cmd(job, conf, "--date", B, *many)
        kill = kill_mid_write(cmd, tmp_path / "tables" / table, B)
        assert kill["killed"] and kill["returncode"] == -signal.SIGKILL, kill
        assert not kill["committed"], f"the kill came after the commit: {kill}"
        assert delta_version(spark, table_path(settings, table)) == version
        after = _snap(spark, settings)
        assert after[table] == before[table], "the killed run changed the table"
        assert after[table][A] == s0[table][A]  # the other date is untouched
        proc = run_job(job, conf, "--date", B)
        assert proc.returncode == 0, proc.stderr[-3000:]
        counts = {}
        if job == "ingest":  # where the rerun put every row read (the killed run kept none)
            summary = latest_summary(tmp_path, job, B)
            assert summary["reconciled"] and summary["rows_read"] == n_new
            counts = {k: summary[k] for k in ("rows_read", "accepted", "quarantined", "duplicate")}
            counts["filtered"] = summary.get("filtered", 0)
        rerun = _snap(spark, settings)
        run_in_process(spark, job, settings, date=B)  # a clean run of the same date
        clean = _snap(spark, settings)
        assert rerun[table] == clean[table] and rerun[table][A] == s0[table][A]
        if job == "ingest":
            assert rerun["quarantine"] == clean["quarantine"]
            accepted = n_new - len(range(0, n_new, 97))
            assert rerun["events"][B][0] == accepted
        record(
            f"sigkill_{job}_mid_write",
            "fault",
            **counts,
            outcome=f"SIGKILL {kill['after_s']} s after start, {kill['orphan_files']} uncommitted "
            f"part file(s), no commit: {table} {B} kept its old rows, {A} untouched; rerun == "
            f"clean run ({rerun[table][B][0]} rows)",
            kill=kill,
        )


@pytest.mark.slow
def test_two_writers_for_the_same_date(spark, tmp_path, record):
    n = int(os.environ.get("UBSD_RELIABILITY_WRITER_ROWS", "20000"))
    write_day(tmp_path, A, day_rows(A, 500, "a"))
    settings = settings_for(tmp_path)
    run_in_process(spark, "ingest", settings, date=A)  # the table exists: no creation race
    s0 = _snap(spark, settings)
    confs = {}
    for tag in ("x", "y"):
        write_day(tmp_path, B, day_rows(B, n, tag), folder=f"raw_{tag}")
        confs[tag] = write_conf(
            tmp_path, name=f"{tag}.yaml", storage=f"  input_path: raw_{tag}/date={{date}}\n"
        )
    procs = {
        tag: subprocess.Popen(
            job_cmd("ingest", conf, "--date", B),
            cwd=REPO,
            env=job_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag, conf in confs.items()
    }
    outs = {tag: p.communicate(timeout=1200) for tag, p in procs.items()}
    rcs = {tag: p.returncode for tag, p in procs.items()}
    assert 0 in rcs.values(), {t: o[1][-2000:] for t, o in outs.items()}
    for tag, rc in rcs.items():
        if rc != 0:
            assert "concurrent" in outs[tag][1].lower(), outs[tag][1][-3000:]
    owners = {}
    for table in ("events", "quarantine"):
        df = spark.read.format("delta").load(table_path(settings, table)).where(f"date = '{B}'")
        tags = {r["t"] for r in df.selectExpr("split(event_id, '-')[0] AS t").distinct().collect()}
        assert len(tags) == 1, f"{table} {B} mixes writers: {tags}"
        owners[table] = tags.pop()
    after = _snap(spark, settings)
    assert after["events"][A] == s0["events"][A]
    winner = owners["events"]
    assert after["events"][B][0] == n - len(range(0, n, 97))
    record(
        "two_writers_same_date",
        "fault",
        outcome=f"exit codes {rcs}; events {B} wholly from writer {winner}, quarantine wholly "
        f"from writer {owners['quarantine']}; {A} untouched",
    )
