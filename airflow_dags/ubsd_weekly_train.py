"""ubsd weekly training: windows -> train -> evaluate -> promote through the gate.

Ranges (``training_range`` task): the gate dates are the last ``ubsd_gate_days`` days (Variable,
default 2) before the run's interval end, the training range the ``ubsd_train_days`` days (default
28) before them. A manual run can set them: ``{"start": "2026-10-01", "end": "2026-10-28",
"gate_start": "2026-10-29", "gate_end": "2026-10-30"}``. Sessionize is re-run over both ranges
(idempotent, and the windows then always match the current feature settings); ``train`` pretrains
and fine-tunes on the training range and registers the challenger, ``evaluate`` writes the report
on the same range, and ``promote`` compares challenger and champion on the gate dates. A refused
promotion makes ``promote`` fail (no retries) and the run red, while the champion keeps serving.
Each Spark task is followed by a check of its run summary (and table partitions).
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, CronDataIntervalTimetable, Param

from ubsd_airflow.operators import UbsdSparkSubmitOperator, check_task
from ubsd_airflow.training import compute_ranges

SPARK_CONN = os.environ.get("UBSD_SPARK_CONN_ID", "ubsd_spark")
START = dt.datetime.fromisoformat(os.environ.get("UBSD_WEEKLY_START", "2026-11-02"))


with DAG(
    dag_id="ubsd_weekly_train",
    description="sessionize the training range -> train -> evaluate -> promote (gated)",
    schedule=CronDataIntervalTimetable("0 4 * * 1", timezone="UTC"),
    start_date=START.replace(tzinfo=dt.UTC),
    catchup=False,  # only the latest week matters for a new model
    max_active_runs=1,
    dagrun_timeout=dt.timedelta(hours=36),
    default_args={
        "owner": "ubsd",
        "retries": int(os.environ.get("UBSD_RETRIES", "1")),
        "retry_delay": dt.timedelta(minutes=10),
        "retry_exponential_backoff": True,
        "max_retry_delay": dt.timedelta(hours=1),
    },
    params={
        "start": Param(None, type=["null", "string"], description="first training day"),
        "end": Param(None, type=["null", "string"], description="last training day"),
        "gate_start": Param(None, type=["null", "string"], description="first gate day"),
        "gate_end": Param(None, type=["null", "string"], description="last gate day"),
    },
    tags=["ubsd"],
    doc_md=__doc__,
) as dag:
    training_range = PythonOperator(
        task_id="training_range",
        python_callable=compute_ranges,
        multiple_outputs=True,  # one XCom per key: train_start, gate_label, ...
        op_kwargs={
            "start": "{{ params.start or '' }}",
            "end": "{{ params.end or '' }}",
            "gate_start": "{{ params.gate_start or '' }}",
            "gate_end": "{{ params.gate_end or '' }}",
            "interval_end": "{{ data_interval_end | ds }}",
        },
    )
    ranges = training_range.output
    train_args: list[Any] = ["--start", ranges["train_start"], "--end", ranges["train_end"]]
    gate_args: list[Any] = ["--start", ranges["gate_start"], "--end", ranges["gate_end"]]
    all_args: list[Any] = ["--start", ranges["all_start"], "--end", ranges["all_end"]]

    sessionize = UbsdSparkSubmitOperator(
        task_id="sessionize_range",
        job="sessionize",
        job_args=all_args,
        conn_id=SPARK_CONN,
        execution_timeout=dt.timedelta(hours=6),
    )
    check_sessionize = check_task(
        "sessionize", "sessionize_range", label=ranges["all_label"], dates=ranges["all_dates"]
    )
    train = UbsdSparkSubmitOperator(
        task_id="train",
        job="train",
        job_args=train_args,
        conn_id=SPARK_CONN,
        gpu=True,
        execution_timeout=dt.timedelta(hours=12),
    )
    check_train = check_task(
        "train", "train", label=ranges["train_label"], dates=ranges["train_dates"]
    )
    evaluate = UbsdSparkSubmitOperator(
        task_id="evaluate",
        job="evaluate",
        job_args=train_args,
        conn_id=SPARK_CONN,
        gpu=True,
        execution_timeout=dt.timedelta(hours=4),
    )
    check_evaluate = check_task(
        "evaluate", "evaluate", label=ranges["train_label"], dates=ranges["train_dates"]
    )
    promote = UbsdSparkSubmitOperator(
        task_id="promote",
        job="promote",
        job_args=gate_args,
        conn_id=SPARK_CONN,
        retries=0,  # a refused promotion is a decision, not a glitch: fail visibly, once
        execution_timeout=dt.timedelta(hours=1),
    )
    check_promote = check_task(
        "promote", "promote", label=ranges["gate_label"], dates=ranges["gate_dates"]
    )

    (
        training_range
        >> sessionize
        >> check_sessionize
        >> train
        >> check_train
        >> evaluate
        >> check_evaluate
        >> promote
        >> check_promote
    )
