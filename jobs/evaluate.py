"""spark-submit entry point: the evaluation report (transformer vs baselines) for a date range.

spark-submit jobs/evaluate.py --conf-file conf/local.yaml --start 2026-11-01 --end 2026-11-07
"""

from ubsd.cli import Flag, run_job
from ubsd.pipeline.evaluate import run_evaluate

if __name__ == "__main__":
    raise SystemExit(
        run_job(
            "evaluate",
            run_evaluate,
            "Fit and compare the transformer and every baseline on one time/user split.",
            flags=[Flag("--size", "model.size", "tiny, small or base")],
        )
    )
