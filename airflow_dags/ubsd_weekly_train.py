"""ubsd weekly training: windows over the training range -> train -> evaluate -> promote.

The range ends on the last day of the week interval (the Sunday before the run) and spans
``ubsd_train_days`` days (Variable, default 28); a manual run can set it with the run
configuration ``{"start": "2026-10-01", "end": "2026-10-28"}``. Sessionize is re-run over the
range (idempotent, and the windows then always match the current feature settings), then the
model is pretrained and fine-tuned, evaluated, and promoted only through the gate: a refused
promotion makes ``promote`` fail (no retries) and the run red, while the current champion keeps
serving. Each Spark task is followed by a check of its run summary (and table partitions).
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, CronDataIntervalTimetable, Param

from ubsd_airflow.operators import UbsdSparkSubmitOperator, check_task
from ubsd_airflow.training import compute_training_range

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
        "start": Param(None, type=["null", "string"], format="date", description="first day"),
        "end": Param(None, type=["null", "string"], format="date", description="last day"),
    },
    tags=["ubsd"],
    doc_md=__doc__,
) as dag:
    training_range = PythonOperator(
        task_id="training_range",
        python_callable=compute_training_range,
        op_kwargs={
            "start": "{{ params.start or '' }}",
            "end": "{{ params.end or '' }}",
            "interval_end": "{{ data_interval_end | ds }}",
        },
    )
    span: list[Any] = [
        "--start",
        training_range.output["start"],
        "--end",
        training_range.output["end"],
    ]
    label, dates = training_range.output["label"], training_range.output["dates"]

    sessionize = UbsdSparkSubmitOperator(
        task_id="sessionize_range",
        job="sessionize",
        job_args=span,
        conn_id=SPARK_CONN,
        execution_timeout=dt.timedelta(hours=6),
    )
    check_sessionize = check_task("sessionize", "sessionize_range", label=label, dates=dates)
    train = UbsdSparkSubmitOperator(
        task_id="train",
        job="train",
        job_args=span,
        conn_id=SPARK_CONN,
        gpu=True,
        execution_timeout=dt.timedelta(hours=12),
    )
    check_train = check_task("train", "train", label=label, dates=dates)
    evaluate = UbsdSparkSubmitOperator(
        task_id="evaluate",
        job="evaluate",
        job_args=span,
        conn_id=SPARK_CONN,
        gpu=True,
        execution_timeout=dt.timedelta(hours=4),
    )
    check_evaluate = check_task("evaluate", "evaluate", label=label, dates=dates)
    promote = UbsdSparkSubmitOperator(
        task_id="promote",
        job="promote",
        job_args=[],
        conn_id=SPARK_CONN,
        retries=0,  # a refused promotion is a decision, not a glitch: fail visibly, once
        execution_timeout=dt.timedelta(hours=1),
    )
    check_promote = check_task("promote", "promote", label="*", dates="")

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
