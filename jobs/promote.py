"""spark-submit entry point: gate the challenger against the champion on held-out dates.

spark-submit jobs/promote.py --conf-file conf/local.yaml --start 2026-11-08 --end 2026-11-09
Exit 1 (with the reasons) when the gate refuses; the champion then keeps serving.
"""

from ubsd.cli import run_job
from ubsd.promotion.promote import run_promotion

if __name__ == "__main__":
    raise SystemExit(
        run_job(
            "promote",
            run_promotion,
            "Compare challenger and champion on held-out windows; move champion if better.",
        )
    )
