"""What every job's ``main`` shares: arguments, config, session, summary, exit code.

A job is ``run_job("ingest", run_ingest)``: the library function gets the SparkSession, the
settings and the run context, and returns the run summary.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ubsd.config import ConfigError, Settings, load_config
from ubsd.runs import RunContext, run_dates, write_summary

JobFn = Callable[[Any, Settings, RunContext], dict[str, Any]]


@dataclass(frozen=True)
class Flag:
    """A job-specific flag that is a shortcut for one config key (``--set key=value``)."""

    flag: str
    key: str
    help: str


def job_parser(name: str, description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"jobs/{name}.py", description=description)
    p.add_argument(
        "--conf-file",
        default=os.environ.get("UBSD_CONF"),
        help="YAML config (default: $UBSD_CONF, else the embedded defaults)",
    )
    p.add_argument("--date", help="the UTC date this run owns (YYYY-MM-DD)")
    p.add_argument("--start", help="first date of a range run (backfills)")
    p.add_argument("--end", help="last date of a range run (inclusive)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set sessionize.gap_minutes=20 (repeatable)",
    )
    return p


def setup_logging() -> None:
    logging.basicConfig(
        level=os.environ.get("UBSD_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def run_job(
    name: str,
    fn: JobFn,
    description: str,
    argv: Sequence[str] | None = None,
    flags: Sequence[Flag] = (),
) -> int:
    """Parse arguments, load config, build the session, run ``fn``, write the summary.

    ``flags`` are shortcuts for config keys; like ``--set``, they override the YAML.
    """
    setup_logging()
    parser = job_parser(name, description)
    for f in flags:
        parser.add_argument(f.flag, dest=f"flag_{f.key}", help=f"{f.help} (= --set {f.key}=...)")
    args = parser.parse_args(argv)
    shortcuts = [
        f"{f.key}={getattr(args, f'flag_{f.key}')}"
        for f in flags
        if getattr(args, f"flag_{f.key}") is not None
    ]
    try:
        settings = load_config(args.conf_file, [*args.set, *shortcuts])
        ctx = RunContext(name, run_dates(args.date, args.start, args.end))
    except (ConfigError, ValueError) as exc:
        print(f"ubsd {name}: {exc}", file=sys.stderr)
        return 2
    from ubsd.spark import SparkStartError, get_spark  # heavy import once arguments are valid

    try:
        spark = get_spark(settings, f"ubsd-{name}")
    except SparkStartError as exc:
        print(f"ubsd {name}: {exc}", file=sys.stderr)
        return 1
    status = 0
    try:
        summary = {"status": "ok", **fn(spark, settings, ctx)}  # checks read the status
    except Exception as exc:  # report, record, and exit non-zero
        summary = dict(getattr(exc, "summary", None) or {})
        summary.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        print(f"ubsd {name} failed: {exc}", file=sys.stderr)
        status = 1
    path = write_summary(settings.storage.root, settings.storage.runs_dir, ctx, summary)
    print(json.dumps({"summary": path, **summary}, indent=2, sort_keys=True, default=str))
    return status
