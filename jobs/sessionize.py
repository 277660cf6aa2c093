"""spark-submit entry point: sessionize events of a date (or range) into the windows table.

spark-submit jobs/sessionize.py --conf-file conf/local.yaml --date 2026-11-01
"""

from ubsd.cli import run_job
from ubsd.sessionize import run_sessionize

if __name__ == "__main__":
    raise SystemExit(
        run_job(
            "sessionize",
            run_sessionize,
            "Per-user sessions, per-event features and sliding windows, per date.",
        )
    )
