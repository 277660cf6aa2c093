"""spark-submit entry point: ingest raw events for a date (or range) into the events table.

spark-submit jobs/ingest.py --conf-file conf/local.yaml --date 2026-11-01
"""

from ubsd.cli import run_job
from ubsd.ingest import run_ingest

if __name__ == "__main__":
    raise SystemExit(
        run_job("ingest", run_ingest, "Validate, dedupe and write raw events; quarantine bad rows.")
    )
