"""The two task kinds of the ubsd DAGs: a job under spark-submit, and the check after it."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.providers.standard.operators.python import PythonOperator

log = logging.getLogger(__name__)


class UbsdSparkSubmitOperator(SparkSubmitOperator):
    """``spark-submit jobs/<job>.py --conf-file C <dates> --set storage.root=R`` for one ubsd job.

    Paths, packages, ``--py-files`` and Spark settings are resolved when the task runs (see
    :mod:`ubsd_airflow.settings`), so the DAG file reads no Variable while it parses. The storage
    root is always passed explicitly: a relative root in the YAML would otherwise resolve against
    the worker's current folder. Returns the start time (XCom) for the check that follows.
    """

    template_fields = (*SparkSubmitOperator.template_fields, "job_args")

    def __init__(self, *, job: str, job_args: list[Any], gpu: bool = False, **kwargs: Any):
        kwargs.setdefault("name", f"ubsd-{job}")
        super().__init__(**kwargs)
        self.job = job
        self.job_args = job_args  # templated; application_args is rebuilt from it on each run
        self.gpu = gpu

    def execute(self, context: Any) -> dict[str, str]:
        from ubsd_airflow.settings import resolve

        settings = resolve()
        self.application = settings.job(self.job)
        self.application_args = [
            "--conf-file",
            str(settings.conf_file),
            *self.job_args,
            "--set",
            f"storage.root={settings.root}",
        ]
        self.conf = {
            **settings.spark_conf,
            **(settings.gpu_conf if self.gpu else {}),
            **(self.conf or {}),
        }
        self.packages = self.packages or settings.packages or None
        self.py_files = self.py_files or settings.py_files or None
        self.env_vars = {**settings.spark_env(), **(self.env_vars or {})}
        started = dt.datetime.now(dt.UTC)
        super().execute(context)
        return {"started": started.isoformat(), "job": self.job}


def _check(job: str, spark_task_id: str, label: str, dates: str, **context: Any) -> dict:
    """Python callable of a check task (templated ``label`` and comma-separated ``dates``)."""
    from ubsd_airflow.checks import check_outputs, check_summary
    from ubsd_airflow.settings import resolve

    settings = resolve()
    pushed = context["ti"].xcom_pull(task_ids=spark_task_id) or {}
    if "started" not in pushed:
        raise RuntimeError(f"{spark_task_id} left no start time: did it run in this DAG run?")
    wanted = [d for d in dates.split(",") if d] or None
    summary = check_summary(
        settings.summary_path(job, label),
        job=job,
        dates=wanted,
        started=dt.datetime.fromisoformat(pushed["started"]),
        tolerance_s=settings.freshness_tolerance_s,
    )
    partitions = check_outputs(job, summary, wanted or [], settings.min_rows)
    log.info("%s run %s ok: %s", job, summary["run_id"], partitions or "summary checked")
    return {"run_id": summary["run_id"], "partitions": partitions}


def check_task(job: str, spark_task_id: str, label: str, dates: str, **kwargs: Any) -> Any:
    """The check after ``spark_task_id``: its run summary, then its table partitions."""
    return PythonOperator(
        task_id=f"check_{spark_task_id}",
        python_callable=_check,
        op_kwargs={"job": job, "spark_task_id": spark_task_id, "label": label, "dates": dates},
        retries=0,  # a failed check means bad data: rerun the Spark task, not the check
        **kwargs,
    )
