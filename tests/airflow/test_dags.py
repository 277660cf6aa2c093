"""The DAG files: they load, parse fast without heavy imports, and wire tasks as designed."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import subprocess
import sys

import pytest
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from conftest import DAGS
from ubsd_airflow.operators import UbsdSparkSubmitOperator

NIGHTLY = [
    "ingest",
    "check_ingest",
    "sessionize",
    "check_sessionize",
    "score",
    "check_score",
    "monitor",
    "check_monitor",
]
WEEKLY = [
    "training_range",
    "sessionize_range",
    "check_sessionize_range",
    "train",
    "check_train",
    "evaluate",
    "check_evaluate",
    "promote",
    "check_promote",
]


def test_dagbag_loads_both_dags_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {"ubsd_nightly", "ubsd_weekly_train"}


@pytest.mark.parametrize(
    ("dag_id", "chain"), [("ubsd_nightly", NIGHTLY), ("ubsd_weekly_train", WEEKLY)]
)
def test_tasks_form_one_chain_with_a_check_after_each_spark_task(dagbag, dag_id, chain):
    dag = dagbag.dags[dag_id]
    assert sorted(dag.task_ids) == sorted(chain)
    for before, after in itertools.pairwise(chain):
        assert after in dag.get_task(before).downstream_task_ids, (before, after)
    spark = [t for t in dag.tasks if isinstance(t, SparkSubmitOperator)]
    for task in spark:
        assert isinstance(task, UbsdSparkSubmitOperator)
        check = dag.get_task(f"check_{task.task_id}")
        assert list(task.downstream_task_ids) == [check.task_id]
        assert check.retries == 0
        assert dt.timedelta(0) < task.execution_timeout <= dt.timedelta(hours=12)
    assert len(spark) == 4


def test_nightly_schedule_retries_and_backfill_safety(dagbag):
    dag = dagbag.dags["ubsd_nightly"]
    assert dag.timetable.expression == "0 2 * * *" and dag.catchup and dag.max_active_runs == 1
    assert dag.dagrun_timeout == dt.timedelta(hours=20)
    ingest, sessionize = dag.get_task("ingest"), dag.get_task("sessionize")
    assert ingest.retries == 0  # UBSD_RETRIES=0 in tests; 2 by default
    assert ingest.retry_exponential_backoff and ingest.max_retry_delay == dt.timedelta(hours=1)
    assert sessionize.depends_on_past and not ingest.depends_on_past
    assert ingest.job_args == ["--date", "{{ data_interval_start | ds }}"]
    assert [t.gpu for t in dag.tasks if isinstance(t, UbsdSparkSubmitOperator)] == [
        False,
        False,
        True,
        False,
    ]


def test_weekly_promote_is_not_retried_and_training_uses_gpu_settings(dagbag):
    dag = dagbag.dags["ubsd_weekly_train"]
    assert dag.timetable.expression == "0 4 * * 1"
    assert not dag.catchup and dag.max_active_runs == 1
    assert dag.get_task("promote").retries == 0
    assert dag.get_task("training_range").multiple_outputs
    for task_id in ("sessionize_range", "train", "evaluate", "promote"):  # ranges via XCom
        assert "training_range" in dag.get_task(task_id).upstream_task_ids
    assert dag.get_task("train").gpu and dag.get_task("evaluate").gpu
    assert not dag.get_task("sessionize_range").gpu


def test_weekly_ranges_put_the_gate_dates_after_training():
    from ubsd_airflow.training import compute_ranges

    got = compute_ranges(None, None, None, None, "2026-12-07", train_days=3, gate_days=1)
    assert (got["train_start"], got["train_end"], got["gate_label"]) == (
        "2026-12-03",
        "2026-12-05",
        "2026-12-06",
    )
    assert got["all_dates"] == "2026-12-03,2026-12-04,2026-12-05,2026-12-06"
    explicit = compute_ranges("2026-11-01", "2026-11-03", "2026-11-04", "2026-11-05", "x", 9, 9)
    assert explicit["train_label"] == "2026-11-01_2026-11-03"
    assert explicit["gate_dates"] == "2026-11-04,2026-11-05"
    with pytest.raises(ValueError, match="must follow the training range"):
        compute_ranges("2026-11-01", "2026-11-03", "2026-11-03", "2026-11-04", "x", 9, 9)
    with pytest.raises(ValueError, match="before it starts"):
        compute_ranges("2026-11-03", "2026-11-01", None, None, "x", 9, 9)


PARSE_PROBE = """
import json, sys, time
t0 = time.perf_counter()
from airflow.dag_processing.dagbag import DagBag
import airflow.providers.apache.spark.operators.spark_submit
import airflow.providers.standard.operators.python
warm = time.perf_counter() - t0
out = {"airflow_import_s": round(warm, 2), "files": {}}
for name in sys.argv[1:]:
    bag = DagBag(dag_folder=name)
    assert not bag.import_errors, bag.import_errors
    out["files"][name] = round(bag.dagbag_stats[0].duration.total_seconds(), 3)
heavy = ("pyspark", "torch", "ubsd", "deltalake", "mlflow", "transformers")
out["heavy"] = sorted({m.split(".")[0] for m in sys.modules} & set(heavy))
print(json.dumps(out))
"""


def test_each_dag_file_parses_in_under_a_second_without_heavy_imports():
    """Fresh interpreter, Airflow and the providers pre-imported (as the DAG processor does)."""
    files = [str(DAGS / "ubsd_nightly.py"), str(DAGS / "ubsd_weekly_train.py")]
    proc = subprocess.run(
        [sys.executable, "-c", PARSE_PROBE, *files],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=DAGS,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print("parse times:", result)
    assert result["heavy"] == []
    for name, seconds in result["files"].items():
        assert seconds < 1.0, (name, seconds)
