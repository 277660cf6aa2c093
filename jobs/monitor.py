"""spark-submit entry point: daily drift and data-quality monitoring of a scored date.

spark-submit jobs/monitor.py --conf-file conf/local.yaml --date 2026-11-02
Exit 1 with what drifted and by how much when a metric breaches its threshold (monitor.*); the
metrics table, the report (<root>/reports/monitor/<date>/) and the MLflow run are written first.
"""

from ubsd.cli import run_job
from ubsd.monitoring.job import run_monitor

if __name__ == "__main__":
    raise SystemExit(
        run_job(
            "monitor",
            run_monitor,
            "Score PSI, flagged rate, input drift and quarantine rate of the date; alert on drift.",
        )
    )
