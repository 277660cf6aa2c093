"""The README's first command, end to end: generate a labelled clickstream, ingest, sessionize,
pretrain and fine-tune the model, register and promote it, score the last day, monitor it.

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
    # A rerun regenerates the data beside the tables and MLflow store of the last run (they are
    # replaced per date, or get a new model version): the demo can be run again and again.
    out = Path(resolve_under(root, "."))
    manifest = generate(get_profile(profile), out, fmt="json", keep_other_files=True)
    gen_s = time.monotonic() - t
    print(
        f"    {manifest.events:,} events, {manifest.fraud_users} fraud users, "
        f"{sum(manifest.malformed_per_reason.values())} malformed rows injected ({gen_s:.1f} s)"
    )
    dates = run_dates(start=manifest.dates[0], end=manifest.dates[-1])
    if len(dates) < 3:
        raise ValueError(f"profile {profile} spans {len(dates)} dates; the demo needs 3 or more")

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

    model_part = _model_stages(spark, settings, dates)
    model_tables = model_part.pop("tables", {})

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
        "example_fraud_windows": [{k: str(v) for k, v in r.asDict().items()} for r in sample],
        "tables": {**ingest["tables"], **sess["tables"], **model_tables},
        **model_part,
    }


def _job(name: str, fn: Any, spark: SparkSession, settings: Settings, dates: list) -> Any:
    ctx = RunContext(name, dates)
    try:
        summary = fn(spark, settings, ctx)
    except Exception as exc:
        summary = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
        write_summary(settings.storage.root, settings.storage.runs_dir, ctx, summary)
        raise
    write_summary(settings.storage.root, settings.storage.runs_dir, ctx, summary)
    return summary


def _model_stages(spark: SparkSession, settings: Settings, dates: list) -> dict[str, Any]:
    """Train -> baselines on the same split -> promote -> score the last day -> monitor it."""
    from ubsd.monitoring.job import run_monitor
    from ubsd.pipeline.train import run_train
    from ubsd.promotion.promote import PromotionRefusedError, run_promotion
    from ubsd.registry.tracking import redact, tracking_uri
    from ubsd.scoring.job import run_scoring

    out: dict[str, Any] = {}
    t = _step(
        f"train ({settings.model.size} model, {settings.training.finetune_mode}) on "
        f"{dates[0]} .. {dates[-1]} (time/user split)"
    )
    train = _job("train", run_train, spark, settings, dates)
    print(
        f"    registered {train['registered_model']} v{train['version']} as {train['alias']} "
        f"({time.monotonic() - t:.1f} s; pretraining stopped: "
        f"{train['pretrain']['stopped_because']})"
    )
    out["train"] = {k: train[k] for k in ("registered_model", "version", "threshold")}
    t = _step("baselines on the same split (rules, IsolationForest, gradient-boosted trees)")
    out["evaluation"] = _evaluation_table(spark, settings, dates, train)
    print(f"    ({time.monotonic() - t:.1f} s)")

    last = dates[-1:]
    t = _step(f"promote: challenger vs champion on held-out {last[0]}")
    alias = settings.mlflow.champion_alias
    try:
        promo = _job("promote", run_promotion, spark, settings, last)
        out["promotion"] = {"promoted": promo.get("promote", False), "checks": promo.get("checks")}
    except PromotionRefusedError as exc:
        out["promotion"] = {"promoted": False, "refused": str(exc)}
        alias = settings.mlflow.challenger_alias  # the demo still scores, with the challenger
    print(f"    {out['promotion']} ({time.monotonic() - t:.1f} s)")

    t = _step(f"score {last[0]} with {settings.mlflow.registered_model}@{alias}")
    scoring = settings.scoring.model_copy(update={"model_alias": alias})
    score = _job(
        "score", run_scoring, spark, settings.model_copy(update={"scoring": scoring}), last
    )
    print(
        f"    {score['rows_scored']:,} windows scored, {score['flagged']:,} flagged "
        f"({time.monotonic() - t:.1f} s)"
    )
    out["scoring"] = {k: score[k] for k in ("rows_in", "rows_scored", "flagged", "flagged_rate")}
    out["top_reasons"] = _top_reasons(spark, settings, score["tables"]["fraud_labels"], last)

    t = _step(f"monitor {last[0]}")
    try:
        mon = _job("monitor", run_monitor, spark, settings, last)
        out["monitor"] = {"alerts": mon.get("alerts"), "report": _report_of(mon)}
    except Exception as exc:  # a drift alert is a finding, not a demo failure
        out["monitor"] = {"alerts": str(exc)[:300]}
    print(f"    {out['monitor']} ({time.monotonic() - t:.1f} s)")
    out["mlflow"] = redact(tracking_uri(settings))
    out["tables"] = score["tables"]
    return out


def _report_of(mon: dict[str, Any]) -> Any:
    for v in (mon.get("by_date") or {}).values():
        if isinstance(v, dict) and v.get("report"):
            return v["report"]
    return None


def _evaluation_table(
    spark: SparkSession, settings: Settings, dates: list, train: dict[str, Any]
) -> dict[str, Any]:
    from ubsd.evaluation.methods import BASELINES
    from ubsd.evaluation.report import evaluate
    from ubsd.io.window_arrays import load_windows
    from ubsd.training.splits import split_from_settings

    table = resolve_under(settings.storage.root, settings.storage.windows_table)
    w = load_windows(
        spark, table, settings.storage.format, settings.sessionize.window_length, dates
    )
    rows: dict[str, Any] = {}
    for group, name in (("detector", "transformer"), ("zero_label", "zero_label")):
        rows[name] = {k: train["test"].get(f"test_{group}_{k}") for k in METRIC_KEYS}
    if w is None:
        return rows
    split = split_from_settings(w, settings.evaluation)
    fast = {k: BASELINES[k] for k in ("rules", "isolation_forest", "gbt")}
    res = evaluate(fast, split, settings.training.target_precision, log=lambda _m: None)
    for name, m in res["methods"].items():
        rows[name] = {k: m.get(k) for k in METRIC_KEYS}
    return rows


METRIC_KEYS = ("roc_auc", "pr_auc", "f1", "recall_at_1pct_fpr")


def _top_reasons(spark: SparkSession, settings: Settings, path: str, dates: list) -> list[str]:
    from ubsd.io.schemas import FRAUD_LABELS_SCHEMA

    labels = read_table(spark, path, settings.storage.format, FRAUD_LABELS_SCHEMA, dates)
    rows = (
        labels.where("is_fraud AND reason_text IS NOT NULL")
        .orderBy(F.col("fraud_probability").desc_nulls_last(), "window_id")
        .select("user_id", "reason_text")
        .limit(5)
        .collect()
    )
    return [f"{r['user_id'][:12]}: {r['reason_text']}" for r in rows]


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
    if "evaluation" in report:
        print("evaluation (test side of the time/user split):")
        print(f"  {'method':<17}" + "".join(f"{k:>20}" for k in METRIC_KEYS))
        for name, m in report["evaluation"].items():
            cells = "".join(
                f"{'-' if m.get(k) is None else round(m[k], 3):>20}" for k in METRIC_KEYS
            )
            print(f"  {name:<17}{cells}")
        print(f"model:   {report['train']}   promotion: {report['promotion']}")
        sc = report["scoring"]
        print(
            f"scoring: {sc['rows_scored']:,} windows scored, {sc['flagged']:,} flagged "
            f"({sc['flagged_rate']:.2%})"
        )
        print("top reasons:")
        for r in report["top_reasons"]:
            print(f"  {r}")
        print(f"monitor: {report['monitor']}")
        print(f"mlflow:  .venv/bin/mlflow ui --backend-store-uri {report['mlflow']}")
    print("tables:")
    for name, path in report["tables"].items():
        print(f"  {name:<13} {path}")
    print("example fraud windows:")
    for w in report["example_fraud_windows"]:
        print(f"  {w}")
