"""ubsd nightly: ingest -> sessionize -> score -> monitor for one UTC date, each checked.

The run for data interval [D 02:00, D+1 02:00) UTC processes date D (the interval's start
date): it starts two hours after D ends, for late files. Every job replaces exactly its date,
so retries, reruns (clear a task) and backfills (``airflow backfill create --dag-id
ubsd_nightly --from-date A --to-date B``) never duplicate rows. Runs go one at a time, oldest
first: sessionize for D looks back into D-1's events, and waits for D-1's sessionize
(``depends_on_past``). After each Spark task a check requires this run's summary and the
date's partition with the reported row count. Settings: Airflow Variables ``ubsd_*``
(docs/airflow.md); nothing is read while parsing.
"""

from __future__ import annotations

import datetime as dt
import os

from airflow.sdk import DAG, CronDataIntervalTimetable

from ubsd_airflow.operators import UbsdSparkSubmitOperator, check_task

DATE = "{{ data_interval_start | ds }}"  # D, also for manual runs and backfills
SPARK_CONN = os.environ.get("UBSD_SPARK_CONN_ID", "ubsd_spark")
START = dt.datetime.fromisoformat(os.environ.get("UBSD_NIGHTLY_START", "2026-11-01"))

default_args = {
    "owner": "ubsd",
    "retries": int(os.environ.get("UBSD_RETRIES", "2")),
    "retry_delay": dt.timedelta(minutes=5),
    "retry_exponential_backoff": True,  # 5, 10, ... minutes, capped below
    "max_retry_delay": dt.timedelta(hours=1),
}

with DAG(
    dag_id="ubsd_nightly",
    description="ingest -> sessionize -> score -> monitor for one UTC date, each output checked",
    schedule=CronDataIntervalTimetable("0 2 * * *", timezone="UTC"),
    start_date=START.replace(tzinfo=dt.UTC),
    catchup=True,  # missed nights run after an outage, in date order
    max_active_runs=1,
    dagrun_timeout=dt.timedelta(hours=20),
    default_args=default_args,
    tags=["ubsd"],
    doc_md=__doc__,
) as dag:
    ingest = UbsdSparkSubmitOperator(
        task_id="ingest",
        job="ingest",
        job_args=["--date", DATE],
        conn_id=SPARK_CONN,
        execution_timeout=dt.timedelta(hours=2),
    )
    check_ingest = check_task("ingest", "ingest", label=DATE, dates=DATE)
    sessionize = UbsdSparkSubmitOperator(
        task_id="sessionize",
        job="sessionize",
        job_args=["--date", DATE],
        conn_id=SPARK_CONN,
        depends_on_past=True,
        execution_timeout=dt.timedelta(hours=3),
    )
    check_sessionize = check_task("sessionize", "sessionize", label=DATE, dates=DATE)
    score = UbsdSparkSubmitOperator(
        task_id="score",
        job="score",
        job_args=["--date", DATE],
        conn_id=SPARK_CONN,
        gpu=True,
        execution_timeout=dt.timedelta(hours=4),
    )
    check_score = check_task("score", "score", label=DATE, dates=DATE)
    monitor = UbsdSparkSubmitOperator(
        task_id="monitor",
        job="monitor",
        job_args=["--date", DATE],
        conn_id=SPARK_CONN,
        execution_timeout=dt.timedelta(hours=1),
    )
    check_monitor = check_task("monitor", "monitor", label=DATE, dates=DATE)

    (
        ingest
        >> check_ingest
        >> sessionize
        >> check_sessionize
        >> score
        >> check_score
        >> monitor
        >> check_monitor
    )
