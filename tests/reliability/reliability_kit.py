"""What the reliability cases share: runs (in-process and as job subprocesses), table checksums."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from helpers import event, make_settings, write_jsonl

from ubsd.io.schemas import RUN_METADATA_COLUMNS

REPO = Path(__file__).resolve().parents[2]
PY = sys.executable


def settings_for(root: Path, *overrides: str):
    return make_settings(root, "ingest.max_quarantine_rate=1.0", *overrides)


def run_in_process(spark, job: str, settings, **dates: str) -> dict[str, Any]:
    """Run ingest, sessionize or score in this test's SparkSession; return its summary."""
    from ubsd.ingest import run_ingest
    from ubsd.runs import RunContext, run_dates
    from ubsd.scoring import run_scoring
    from ubsd.sessionize import run_sessionize

    fn = {"ingest": run_ingest, "sessionize": run_sessionize, "score": run_scoring}[job]
    return fn(spark, settings, RunContext(job, run_dates(**dates)))


def write_conf(
    root: Path,
    extra: str = "",
    spark_conf: dict[str, str] | None = None,
    name: str = "job.yaml",
    storage: str = "",
    dev_key: bool = True,
) -> Path:
    """A job config for subprocess runs: tables under ``root``, small local Spark."""
    conf = root / name
    lines = "".join(f'    {k}: "{v}"\n' for k, v in (spark_conf or {}).items())
    conf.write_text(
        f"storage:\n  root: {root}\n{storage}"
        "spark:\n  master: local[2]\n  shuffle_partitions: 2\n"
        + (f"  conf:\n{lines}" if lines else "")
        + f"ingest:\n  allow_dev_hash_key: {str(dev_key).lower()}\n  max_quarantine_rate: 1.0\n"
        + extra
    )
    return conf


def job_env(**extra: str) -> dict[str, str]:
    """The Makefile's environment for jobs (the right interpreter for Spark's Python workers)."""
    env = {
        **os.environ,
        "PYSPARK_PYTHON": PY,
        "PYSPARK_DRIVER_PYTHON": PY,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
    }
    env.update(extra)
    return env


def job_cmd(job: str, conf: Path, *args: str) -> list[str]:
    return [PY, str(REPO / "jobs" / f"{job}.py"), "--conf-file", str(conf), *args]


def run_job(job: str, conf: Path, *args: str, timeout: int = 900, **env: str):
    """Run ``jobs/<job>.py`` to completion as a user would; return the CompletedProcess."""
    return subprocess.run(
        job_cmd(job, conf, *args),
        cwd=REPO,
        env=job_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def latest_summary(root: Path, job: str, label: str) -> dict[str, Any]:
    return json.loads((root / "runs" / job / label / "latest.json").read_text())


def table_path(settings, which: str) -> str:
    return f"{settings.storage.root}/tables/{which}"


def checksums(spark, path: str) -> dict[str, tuple[int, str]]:
    """Per date: (rows, order-free checksum over every column but the run metadata).

    The checksum sums 60-bit prefixes of each row's SHA-256 (of its JSON form) as a decimal, so
    it is independent of row order and file layout.
    """
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    if not DeltaTable.isDeltaTable(spark, path):
        return {}
    df = spark.read.format("delta").load(path)
    cols = [c for c in df.columns if c not in RUN_METADATA_COLUMNS]
    row_hash = F.conv(F.substring(F.sha2(F.to_json(F.struct(*cols)), 256), 1, 15), 16, 10)
    agg = df.groupBy("date").agg(
        F.count("*").alias("n"), F.sum(row_hash.cast("decimal(38,0)")).alias("h")
    )
    return {r["date"].isoformat(): (r["n"], str(r["h"])) for r in agg.collect()}


def delta_version(spark, path: str) -> int | None:
    from delta.tables import DeltaTable

    if not DeltaTable.isDeltaTable(spark, path):
        return None
    return DeltaTable.forPath(spark, path).history(1).first()["version"]


def day(base: str, offset: int) -> str:
    return (dt.date.fromisoformat(base) + dt.timedelta(days=offset)).isoformat()


def day_rows(date: str, n: int, tag: str, users: int = 50) -> list[dict]:
    """``n`` events over ``users`` users on ``date`` (every 97th row invalid)."""
    rows: list[dict] = []
    for i in range(n):
        sec = (i * 86_399) // max(n, 1)
        ts = f"{date}T{sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}Z"
        kind = ("search", "view", "click", "add_to_cart", "purchase")[i % 5]
        ev = event(f"{tag}-{i}", f"u{i % users}", ts, kind, ip=f"10.0.{i % 7}.{i % 250}")
        if i % 97 == 0:
            ev["price"] = -1
        rows.append(ev)
    return rows


def write_day(root: Path, date: str, rows: list[dict], folder: str = "raw") -> None:
    target = root / folder / f"date={date}"
    for old in target.glob("*"):
        old.unlink()
    write_jsonl(target / "part-0.jsonl", rows)


def kill_mid_write(cmd: list[str], table_dir: Path, date: str, timeout: float = 900) -> dict:
    """Start a job in its own process group; SIGKILL the whole group (driver, JVM, workers) as
    soon as a new data file appears in ``table_dir/date=...`` (Delta writes part files before
    it commits)."""
    part_dir = table_dir / f"date={date}"
    before = set(part_dir.glob("*.parquet")) if part_dir.exists() else set()
    log_dir = table_dir / "_delta_log"
    commits_before = sorted(p.name for p in log_dir.glob("*.json"))
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        env=job_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    start = time.monotonic()
    new: set[Path] = set()
    while time.monotonic() - start < timeout and proc.poll() is None:
        if part_dir.exists():
            new = set(part_dir.glob("*.parquet")) - before
            if new:
                os.killpg(proc.pid, signal.SIGKILL)
                break
        time.sleep(0.01)
    proc.wait(timeout=60)
    commits_after = sorted(p.name for p in log_dir.glob("*.json"))
    return {
        "killed": bool(new),
        "returncode": proc.returncode,
        "orphan_files": len(new),
        "after_s": round(time.monotonic() - start, 1),
        "committed": commits_after != commits_before,
    }


def register_untrained(settings, windows, spec_settings=None, champion: bool = False) -> str:
    """Log and register an untrained ``settings.model`` for the windows' feature spec (or that
    of ``spec_settings``); optionally make it champion. Its version."""
    import mlflow
    from window_factory import untrained_model

    from ubsd.registry.publish import log_and_register
    from ubsd.sessionize.spec import feature_spec

    spec = feature_spec(spec_settings or settings.sessionize)
    model = untrained_model(settings, windows, spec, trained_id="reliability")
    version = log_and_register(settings, model, {"test": "reliability"}, {}).version
    if champion:
        name = settings.mlflow.registered_model
        mlflow.MlflowClient().set_registered_model_alias(name, "champion", version)
    return version
