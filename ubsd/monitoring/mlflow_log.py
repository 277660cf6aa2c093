"""One MLflow run per monitored date: metric values, alert flags, the report files."""

from __future__ import annotations

import datetime as dt
import logging

from ubsd.config import Settings
from ubsd.monitoring.metric import Metric
from ubsd.registry.tracking import configure

log = logging.getLogger("ubsd.monitoring")


def log_to_mlflow(
    settings: Settings,
    date: dt.date,
    metrics: list[Metric],
    files: list[str],
    tags: dict[str, str],
) -> str:
    """Log the date's metrics under ``monitor.experiment`` (else ``mlflow.experiment``); the
    MLflow run id."""
    import mlflow

    experiment = settings.monitor.experiment
    if experiment:
        settings = settings.model_copy(
            update={"mlflow": settings.mlflow.model_copy(update={"experiment": experiment})}
        )
    exp_id = configure(settings)
    with mlflow.start_run(experiment_id=exp_id, run_name=f"monitor-{date}") as run:
        mlflow.set_tags({"ubsd.job": "monitor", "ubsd.date": date.isoformat(), **tags})
        values = {m.name: float(m.value) for m in metrics if m.value is not None}
        values.update({f"{m.name}.breached": float(m.breached) for m in metrics})
        mlflow.log_metrics(values)
        for f in files:
            mlflow.log_artifact(f, artifact_path="monitor")
        return run.info.run_id
