"""The README's first command: generate a labelled clickstream, ingest it, sessionize it.

It runs the same library functions the jobs run, with the same config (``conf/local.yaml``),
in one SparkSession so the demo does not pay JVM start-up per stage.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from ubsd.config import Settings
from ubsd.ingest import run_ingest
from ubsd.io.paths import resolve_under
from ubsd.io.schemas import QUARANTINE_SCHEMA, WINDOWS_SCHEMA
from ubsd.io.tables import read_table
from ubsd.runs import RunContext, run_dates, write_summary
from ubsd.sessionize import run_sessionize
from ubsd.synth import generate, get_profile

log = logging.getLogger("ubsd.demo")


def _step(name: str) -> float:
    print(f"==> {name}", flush=True)
    return time.monotonic()


def run_demo(spark: SparkSession, settings: Settings, profile: str = "demo") -> dict[str, Any]:
    """Generate ``profile`` under the storage root, ingest and sessionize all its dates."""
    root = settings.storage.root
    t = _step(f"generating synthetic clickstream (profile {profile})")
    manifest = generate(get_profile(profile), Path(resolve_under(root, ".")), fmt="json")
    gen_s = time.monotonic() - t
    print(
        f"    {manifest.events:,} events, {manifest.fraud_users} fraud users, "
        f"{sum(manifest.malformed_per_reason.values())} malformed rows injected ({gen_s:.1f} s)"
    )
    dates = run_dates(start=manifest.dates[0], end=manifest.dates[-1])

    t = _step(f"ingest {dates[0]} .. {dates[-1]}")
    ctx = RunContext("ingest", dates)
    ingest = run_ingest(spark, settings, ctx)
    write_summary(root, settings.storage.runs_dir, ctx, ingest)
    print(
        f"    read {ingest['rows_read']:,}: accepted {ingest['accepted']:,}, quarantined "
        f"{ingest['quarantined']:,}, duplicates {ingest['duplicate']:,} "
        f"({time.monotonic() - t:.1f} s)"
    )

    t = _step(f"sessionize {dates[0]} .. {dates[-1]}")
    ctx = RunContext("sessionize", dates)
    sess = run_sessionize(spark, settings, ctx)
    write_summary(root, settings.storage.runs_dir, ctx, sess)
    print(f"    {sess['windows']:,} windows ({time.monotonic() - t:.1f} s)")

    fmt = settings.storage.format
    windows = read_table(spark, sess["tables"]["windows"], fmt, WINDOWS_SCHEMA)
    by_type = {
        r["fraud_type"]: r["count"]
        for r in windows.where("label = 1").groupBy("fraud_type").count().collect()
    }
    q = read_table(spark, ingest["tables"]["quarantine"], fmt, QUARANTINE_SCHEMA)
    reasons = {r["reason"]: r["count"] for r in q.groupBy("reason").count().collect()}
    sample = (
        windows.where("label = 1")
        .orderBy(F.col("n_events").desc(), "window_id")
        .select("user_id", "fraud_type", "n_events", "start_ts", "end_ts")
        .limit(3)
        .collect()
    )
    return {
        "profile": f"{manifest.profile} v{manifest.profile_version}",
        "dates": [d.isoformat() for d in dates],
        "ingest": {k: ingest[k] for k in ("rows_read", "accepted", "quarantined", "duplicate")},
        "quarantine_reasons": dict(sorted(reasons.items())),
        "windows": sess["windows"],
        "sessions": sess["sessions_starting_in_run"],
        "positive_windows_by_type": dict(sorted(by_type.items())),
        "feature_version": sess["feature_version"],
        "tables": {**ingest["tables"], **sess["tables"]},
        "example_fraud_windows": [{k: str(v) for k, v in r.asDict().items()} for r in sample],
    }


def print_report(report: dict[str, Any]) -> None:
    """A short, human-readable account of what the demo wrote and where."""
    print("\n=== ubsd demo summary ===")
    print(f"profile: {report['profile']}   dates: {report['dates'][0]} .. {report['dates'][-1]}")
    i = report["ingest"]
    print(
        f"ingest:  {i['rows_read']:,} rows read = {i['accepted']:,} accepted + "
        f"{i['quarantined']:,} quarantined + {i['duplicate']:,} duplicates"
    )
    print(f"         quarantine reasons: {report['quarantine_reasons']}")
    print(f"windows: {report['windows']:,} in {report['sessions']:,} sessions")
    print(f"         fraud windows by type: {report['positive_windows_by_type']}")
    print("tables:")
    for name, path in report["tables"].items():
        print(f"  {name:<11} {path}")
    print("example fraud windows:")
    for w in report["example_fraud_windows"]:
        print(f"  {w}")
