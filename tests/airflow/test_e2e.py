"""End to end: the DAGs run under Airflow's ``dag.test()`` on a sqlite metadata DB, and their
Spark tasks run the real jobs with ``spark-submit`` (local mode, the job venv's Spark, the
library from the ``make dist`` zip) on the ``ci`` synthetic profile.

The fast tests mark score and monitor success instead of running them (no model is registered
there); the slow test runs every job: weekly training, evaluation and promotion, then a nightly
run that scores with the promoted champion and monitors the day.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from conftest import JOB_VENV, REPO
from deltalake import DeltaTable

D1, D2 = "2026-11-01", "2026-11-02"


def _partition_rows(table: str, date: str) -> int:
    actions = DeltaTable(table).get_add_actions(flatten=True)
    dates = [str(d) for d in actions.column("partition.date").to_pylist()]
    counts = actions.column("num_records").to_pylist()
    return sum(n for d, n in zip(dates, counts, strict=True) if d == date)


def _summary(root: Path, job: str, label: str) -> dict:
    return json.loads((root / "runs" / job / label / "latest.json").read_text())


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        ["bash", "scripts/build_dist.sh", str(out)], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return next(out.glob("ubsd-*.zip"))


def _pipeline(tmp: Path, dist: Path, monkeypatch, home: Path = REPO, days: int = 2) -> Path:
    """A generated ci day set under ``tmp/data``, and the Variables that point the DAGs at it."""
    if not (JOB_VENV / "bin" / "python").exists():
        pytest.fail(f"the job venv {JOB_VENV} is missing: run scripts/setup.sh")
    root = tmp / "data"
    synth = [JOB_VENV / "bin" / "python", "-m", "ubsd.synth", "--profile", "ci", "--out", root]
    subprocess.run(
        [*synth, "--days", str(days)],
        check=True,
        capture_output=True,
    )
    conf = tmp / "airflow-e2e.yaml"
    conf.write_text(
        "env: airflow-e2e\n"
        "spark:\n  master: local[2]\n  shuffle_partitions: 2\n  driver_memory: 2g\n"
        f"storage:\n  root: {root}\n  input_path: raw/date={{date}}\n  labels_path: labels\n"
        "ingest:\n  allow_dev_hash_key: true\n  max_quarantine_rate: 0.2\n"
        "model:\n  size: tiny\n"
        "training:\n  batch_size: 32\n  max_pretrain_steps: 60\n  max_finetune_steps: 40\n"
        "  eval_every: 20\n  patience: 2\n  val_windows: 200\n"
        "promotion:\n  floor_pr_auc: 0.0\n  floor_roc_auc: 0.0\n"
        # about wiring, not drift: a 60-step model on the ci profile may well alert
        "monitor:\n  psi_alert: 100.0\n  psi_warn: 50.0\n  flagged_rate_ratio: 1000.0\n"
        "  quarantine_rate_alert: 0.5\n"
    )
    variables = {
        "AIRFLOW_VAR_UBSD_HOME": str(home),
        "AIRFLOW_VAR_UBSD_CONF_FILE": str(conf),
        "AIRFLOW_VAR_UBSD_PY_FILES": str(dist),
        "AIRFLOW_VAR_UBSD_JOB_VENV": str(JOB_VENV),
        "AIRFLOW_CONN_UBSD_SPARK": json.dumps({"conn_type": "spark", "host": "local[2]"}),
    }
    for key, value in variables.items():
        monkeypatch.setenv(key, value)
    return root


def _run(dagbag, dag_id: str, interval_end: str, skip: str | None, **kwargs):
    dag = dagbag.dags[dag_id]
    logical = dt.datetime.fromisoformat(interval_end).replace(hour=2, tzinfo=dt.UTC)
    t0 = time.perf_counter()
    run = dag.test(logical_date=logical, mark_success_pattern=skip, **kwargs)
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    print(f"{dag_id} {interval_end}: {run.state} in {time.perf_counter() - t0:.0f} s {states}")
    return run, states


def test_nightly_ingests_and_sessionizes_one_day_with_checks(
    airflow_db, dagbag, dist, tmp_path, monkeypatch
):
    root = _pipeline(tmp_path, dist, monkeypatch)
    run, states = _run(dagbag, "ubsd_nightly", D2, skip="(check_)?(score|monitor)")
    assert run.state == "success", states
    assert set(states.values()) == {"success"}
    ingest = _summary(root, "ingest", D1)
    assert ingest["dates"] == [D1] and ingest["status"] == "ok" and ingest["reconciled"]
    events = _partition_rows(ingest["tables"]["events"], D1)
    assert events == ingest["accepted_per_date"][D1] > 1000
    windows = _summary(root, "sessionize", D1)
    assert _partition_rows(windows["tables"]["windows"], D1) == windows["windows_per_date"][D1] > 0
    assert not (root / "runs" / "ingest" / D2).exists()  # the run owns its date only


def test_a_spark_task_that_exits_0_without_output_fails_its_check(
    airflow_db, dagbag, dist, tmp_path, monkeypatch
):
    """spark-submit's exit status is not trusted: a job that 'succeeds' silently is caught."""
    home = tmp_path / "home"
    (home / "jobs").mkdir(parents=True)
    (home / "jobs" / "ingest.py").write_text("print('pretending to ingest')\n")
    _pipeline(tmp_path, dist, monkeypatch, home=home)
    run, states = _run(dagbag, "ubsd_nightly", D2, skip="(check_)?(score|monitor)")
    assert states["ingest"] == "success" and states["check_ingest"] == "failed"
    assert states["sessionize"] == "upstream_failed" and run.state == "failed"


def _ingest_range(root: Path, conf: Path, start: str, end: str) -> None:
    """Set-up outside Airflow: ingest a date range with one spark-submit."""
    spark_home = next(JOB_VENV.glob("lib/python3*/site-packages/pyspark"))
    env = {**os.environ, "SPARK_HOME": str(spark_home)}
    env["PYSPARK_PYTHON"] = env["PYSPARK_DRIVER_PYTHON"] = str(JOB_VENV / "bin" / "python")
    proc = subprocess.run(
        [
            str(JOB_VENV / "bin" / "spark-submit"),
            "--packages",
            "io.delta:delta-spark_4.2_2.13:4.4.0",
            str(REPO / "jobs" / "ingest.py"),
            "--conf-file",
            str(conf),
            "--start",
            start,
            "--end",
            end,
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]


@pytest.mark.slow
def test_weekly_trains_promotes_then_nightly_scores(
    airflow_db, dagbag, dist, tmp_path, monkeypatch
):
    """Weekly over 5 generated days (train 1-3, gate 4-5), then a full nightly run for day 5.

    Tiny model with step caps; the promotion floors are zero so that the first model passes.
    """
    root = _pipeline(tmp_path, dist, monkeypatch, days=5)
    conf = Path(os.environ["AIRFLOW_VAR_UBSD_CONF_FILE"])
    dates = [f"2026-11-0{i}" for i in range(1, 6)]
    _ingest_range(root, conf, dates[0], dates[-1])

    span = {"start": dates[0], "end": dates[2], "gate_start": dates[3], "gate_end": dates[4]}
    run, states = _run(dagbag, "ubsd_weekly_train", "2026-11-16", skip=None, run_conf=span)
    assert run.state == "success", states
    ranged = _summary(root, "sessionize", f"{dates[0]}_{dates[-1]}")
    assert sorted(ranged["windows_per_date"]) == dates
    for d in dates:
        assert _partition_rows(ranged["tables"]["windows"], d) == ranged["windows_per_date"][d]
    train = _summary(root, "train", f"{dates[0]}_{dates[2]}")
    assert train["alias"] == "challenger" and train["version"] == "1"
    promote = _summary(root, "promote", f"{dates[3]}_{dates[4]}")
    assert promote["status"] == "ok" and promote["promote"] is True

    run, states = _run(dagbag, "ubsd_nightly", "2026-11-06", skip=None)
    assert run.state == "success", states
    first = _summary(root, "ingest", dates[4])
    rows = _partition_rows(first["tables"]["events"], dates[4])
    score = _summary(root, "score", dates[4])
    assert score["model"]["version"] == "1" and score["rows_in"] == score["rows_scored"] > 0
    labels = _partition_rows(score["tables"]["fraud_labels"], dates[4])
    assert labels == score["rows_scored"] == ranged["windows_per_date"][dates[4]]
    assert _summary(root, "monitor", dates[4])["status"] == "ok"

    run, states = _run(dagbag, "ubsd_nightly", "2026-11-06", skip=None)  # a rerun
    again = _summary(root, "ingest", dates[4])
    assert run.state == "success" and again["run_id"] != first["run_id"]
    assert _partition_rows(again["tables"]["events"], dates[4]) == rows  # replaced, not added
    rescored = _summary(root, "score", dates[4])
    assert _partition_rows(rescored["tables"]["fraud_labels"], dates[4]) == labels
