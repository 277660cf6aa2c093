"""The README's first command: generate a synthetic clickstream, ingest and sessionize it.

python jobs/demo.py [--conf-file conf/local.yaml] [--profile demo]
"""

import argparse
import datetime as dt
import sys

from ubsd.cli import setup_logging
from ubsd.config import load_config
from ubsd.pipeline.demo import print_report, run_demo
from ubsd.runs import RunContext, write_summary
from ubsd.spark import get_spark


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="jobs/demo.py", description=__doc__.splitlines()[0])
    p.add_argument("--conf-file", default="conf/local.yaml")
    p.add_argument("--profile", default="demo", help="generator profile (ci, demo, ...)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = p.parse_args(argv)
    setup_logging()
    settings = load_config(args.conf_file, args.set)
    spark = get_spark(settings, "ubsd-demo")
    report = run_demo(spark, settings, args.profile)
    dates = [dt.date.fromisoformat(d) for d in report["dates"]]
    ctx = RunContext("demo", dates)
    path = write_summary(settings.storage.root, settings.storage.runs_dir, ctx, report)
    print_report(report)
    print(f"summary: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
