"""The monitor job's one function: daily drift and data-quality metrics of the scored dates.

For each date: score PSI against the training reference of the model that scored it, flagged
rate against its trailing average, input drift against the trailing days of the windows table,
and the ingest quarantine rate. The metrics table (``replaceWhere`` on the dates), the PNG/HTML
report and the MLflow run are written first; then, if any metric breached its threshold,
:class:`MonitorAlertError` says what drifted and by how much (non-zero exit: Airflow fails the
task and alerts).
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ubsd.config import Settings
from ubsd.io.paths import resolve_under
from ubsd.io.schemas import (
    EVENTS_SCHEMA,
    FRAUD_LABELS_SCHEMA,
    MONITOR_METRICS_SCHEMA,
    QUARANTINE_SCHEMA,
    WINDOWS_SCHEMA,
)
from ubsd.io.tables import read_table, write_dates
from ubsd.monitoring.inputs import input_metrics
from ubsd.monitoring.metric import Metric, fmt
from ubsd.monitoring.mlflow_log import log_to_mlflow
from ubsd.monitoring.quality import quarantine_rate
from ubsd.monitoring.reference import ModelReference, load_reference, scoring_model
from ubsd.monitoring.report import write_report
from ubsd.monitoring.scores import label_counts, score_metrics
from ubsd.runs import RunContext

log = logging.getLogger("ubsd.monitoring")


class MonitorAlertError(RuntimeError):
    """A metric breached its threshold (or a date had no scored windows with empty_day=fail)."""

    def __init__(self, message: str, summary: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.summary = summary


def fraud_labels_path(settings: Settings) -> str:
    return resolve_under(settings.storage.root, settings.storage.fraud_labels_table)


def _trailing(date: dt.date, days: int) -> list[dt.date]:
    return [date - dt.timedelta(days=i) for i in range(days, 0, -1)]


def _read(spark: SparkSession, settings: Settings, rel: str, schema, dates) -> DataFrame:
    path = resolve_under(settings.storage.root, rel)
    return read_table(spark, path, settings.storage.format, schema, dates)


def alert_message(m: Metric) -> str:
    return f"{m.name} = {fmt(m.value)} (threshold {fmt(m.threshold)}): {m.detail}"


def date_metrics(
    spark: SparkSession, settings: Settings, date: dt.date
) -> tuple[list[Metric], str]:
    """Every metric of one date, and the label of the model that scored it."""
    cfg = settings.monitor
    before = _trailing(date, cfg.trailing_days)
    ref_label = f"the windows of {before[0]}..{before[-1]}"
    labels = fraud_labels_path(settings)
    fmt_ = settings.storage.format
    all_labels = read_table(spark, labels, fmt_, FRAUD_LABELS_SCHEMA, [*before, date])
    counts = label_counts(all_labels)
    who = scoring_model(counts, date)
    reference: ModelReference | str
    if who is None:
        reference, model = f"no scored windows on {date} in {labels}", "none"
    else:
        reference, model = load_reference(settings, *who), f"{who[0]} v{who[1]}"
    day = all_labels.where(F.col("date") == F.lit(date))
    metrics = score_metrics(day, counts, date, reference, cfg)
    windows = _read(
        spark, settings, settings.storage.windows_table, WINDOWS_SCHEMA, [*before, date]
    )
    metrics += input_metrics(
        windows.withColumn("_is_day", F.col("date") == F.lit(date)), "_is_day", ref_label, cfg
    )
    events = _read(spark, settings, settings.storage.events_table, EVENTS_SCHEMA, [*before, date])
    quarantine = _read(
        spark, settings, settings.storage.quarantine_table, QUARANTINE_SCHEMA, [*before, date]
    )
    metrics.append(quarantine_rate(events, quarantine, date, cfg))
    return metrics, model


def _report_folder(settings: Settings, date: dt.date) -> Path:
    rel = f"{settings.monitor.report_dir}/{date.isoformat()}"
    if "://" in settings.storage.root:  # reports are for people: keep them on the driver's disk
        return Path(rel).resolve()
    return Path(resolve_under(settings.storage.root, rel))


def run_monitor(spark: SparkSession, settings: Settings, ctx: RunContext) -> dict[str, Any]:
    """Monitor the run's dates; return the run summary, or raise :class:`MonitorAlertError`."""
    cfg = settings.monitor
    rows: list[dict[str, Any]] = []
    alerts: list[str] = []
    per_date: dict[str, Any] = {}
    for date in ctx.dates:
        metrics, model = date_metrics(spark, settings, date)
        day_alerts = [f"{date}: {alert_message(m)}" for m in metrics if m.breached]
        empty = next(m for m in metrics if m.name == "scored_windows").value == 0
        if empty and cfg.empty_day == "fail":
            day_alerts.append(
                f"{date}: no scored windows in {fraud_labels_path(settings)} "
                "(monitor.empty_day=fail)"
            )
        report = write_report(_report_folder(settings, date), date, metrics, model, day_alerts)
        run_id = None
        if cfg.log_to_mlflow:
            tags = {"ubsd.model": model, "ubsd.alerts": str(len(day_alerts))}
            try:
                run_id = log_to_mlflow(settings, date, metrics, list(report.values()), tags)
            except Exception as exc:  # the table and report still stand; say so loudly
                log.error("monitor %s: MLflow logging failed: %s", date, exc)
                run_id = f"failed: {type(exc).__name__}: {str(exc)[:200]}"
        for m in metrics:
            rows.append(
                {**m.row(), "date": date, "run_id": ctx.run_id, "processed_at": ctx.processed_at}
            )
            if m.skipped:
                log.warning("monitor %s: %s %s", date, m.name, m.detail)
        per_date[date.isoformat()] = {
            "model": model,
            "metrics": {m.name: m.value for m in metrics},
            "breached": [m.name for m in metrics if m.breached],
            "skipped": {m.name: m.detail for m in metrics if m.skipped},
            "report": report,
            "mlflow_run": run_id,
        }
        alerts += day_alerts
    table = resolve_under(settings.storage.root, cfg.metrics_table)
    df = spark.createDataFrame(rows, MONITOR_METRICS_SCHEMA)
    write_dates(df, table, ctx.dates, settings.storage.format, MONITOR_METRICS_SCHEMA)
    summary: dict[str, Any] = {
        "status": "ok",
        "metrics_table": table,
        "metric_rows": len(rows),
        "alerts": alerts,
        "by_date": per_date,
    }
    if alerts:
        summary["status"] = "failed"
        raise MonitorAlertError(
            f"{len(alerts)} monitoring alert(s): " + " | ".join(alerts), summary
        )
    return summary
