"""The scoring run summary, logged to MLflow beside the JSON file every job writes."""

from __future__ import annotations

import logging
from typing import Any

from ubsd.config import Settings
from ubsd.registry.tracking import configure
from ubsd.runs import RunContext

log = logging.getLogger("ubsd.scoring")


def log_to_mlflow(settings: Settings, ctx: RunContext, summary: dict[str, Any]) -> str | None:
    """One MLflow run per scoring run: params (model), metrics (counts, rate, timings), the
    summary as ``score_summary.json``. A tracking outage does not undo written labels: it is
    logged, and the summary says so (``mlflow_run_id`` null)."""
    import mlflow

    try:
        exp = configure(settings)
        with mlflow.start_run(experiment_id=exp, run_name=f"score-{ctx.label}") as run:
            m = summary["model"]
            mlflow.set_tags({"ubsd.job": "score", "ubsd.run_id": ctx.run_id})
            mlflow.log_params(
                {
                    "dates": ctx.label,
                    "model_name": m["name"],
                    "model_version": m["version"],
                    "model_alias": m["alias"],
                    "threshold": m["threshold"],
                    "alert_source": m["alert_source"],
                    "precision": summary["precision"],
                }
            )
            metrics = {
                k: float(summary[k])
                for k in ("rows_in", "rows_scored", "flagged", "flagged_rate", "explained")
            }
            metrics.update({f"seconds_{k}": float(v) for k, v in summary["timings_s"].items()})
            mlflow.log_metrics(metrics)
            mlflow.log_dict({**summary, "run_id": ctx.run_id}, "score_summary.json")
            return run.info.run_id
    except Exception as exc:  # labels are written: report, do not fail
        log.warning("could not log the scoring summary to MLflow: %s", exc)
        return None
