"""A label-free run on a team's own clickstream: what looks least like its normal traffic?

Ingest (through the configured source adapter) -> sessionize -> pretrain only (no labels, no
fine-tuned classifier) -> register the pretrained model -> score every date with exactly that
version (the zero-label score; ``is_fraud`` from the alert budget ``training.alert_rate``; a null
probability) -> a report of the most anomalous sessions with their reasons and a score histogram.

It never touches the ``champion`` alias: the model is registered as the challenger, and scoring
pins the version it just trained. When the windows happen to carry labels (TalkingData's
``is_attributed``), the report also says how the score relates to them, beside a click-rate rule.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from ubsd.config import Settings
from ubsd.evaluation import anomaly_report
from ubsd.ingest import run_ingest
from ubsd.io.paths import resolve_under
from ubsd.io.schemas import FRAUD_LABELS_SCHEMA, WINDOWS_SCHEMA
from ubsd.io.tables import read_table
from ubsd.pipeline.train import run_train
from ubsd.runs import RunContext
from ubsd.scoring.job import run_scoring
from ubsd.sessionize import run_sessionize

log = logging.getLogger("ubsd.unsupervised")


def _stage(name: str) -> float:
    log.info("==> %s", name)
    print(f"==> {name}", flush=True)
    return time.monotonic()


def label_is_benign(settings: Settings) -> bool:
    """TalkingData's default label marks a download: the anomaly score targets its absence."""
    src = settings.source
    return src.kind == "talkingdata" and src.talkingdata_label == "attributed"


def run_unsupervised(spark: SparkSession, settings: Settings, ctx: RunContext) -> dict[str, Any]:
    """Ingest -> sessionize -> pretrain -> zero-label scoring -> report, for ``ctx.dates``."""
    settings = settings.model_copy(
        update={"training": settings.training.model_copy(update={"finetune_mode": "none"})}
    )
    root = settings.storage.root
    seconds: dict[str, float] = {}

    t = _stage(f"ingest {ctx.label} ({settings.source.kind})")
    ingest = run_ingest(spark, settings, RunContext("ingest", ctx.dates, ctx.run_id))
    seconds["ingest"] = round(time.monotonic() - t, 1)

    t = _stage(f"sessionize {ctx.label}")
    sess = run_sessionize(spark, settings, RunContext("sessionize", ctx.dates, ctx.run_id))
    seconds["sessionize"] = round(time.monotonic() - t, 1)

    t = _stage(f"pretrain ({settings.model.size}; no labels, no classifier)")
    train = run_train(spark, settings, RunContext("train", ctx.dates, ctx.run_id))
    seconds["pretrain"] = round(time.monotonic() - t, 1)

    t = _stage(f"score {ctx.label} with {train['registered_model']} v{train['version']}")
    scoring = settings.scoring.model_copy(update={"model_version": int(train["version"])})
    score = run_scoring(
        spark,
        settings.model_copy(update={"scoring": scoring}),
        RunContext("score", ctx.dates, ctx.run_id),
    )
    seconds["score"] = round(time.monotonic() - t, 1)

    t = _stage("report")
    fmt = settings.storage.format
    labels = read_table(
        spark, score["tables"]["fraud_labels"], fmt, FRAUD_LABELS_SCHEMA, ctx.dates
    ).cache()
    windows = read_table(spark, sess["tables"]["windows"], fmt, WINDOWS_SCHEMA, ctx.dates)
    out_dir = Path(
        resolve_under(root, f"{settings.evaluation.unsupervised_report_dir}/{ctx.label}")
    )
    threshold = train.get("zero_label_threshold")
    report: dict[str, Any] = {
        "source": settings.source.kind,
        "dates": [d.isoformat() for d in ctx.dates],
        "model": f"{train['registered_model']} v{train['version']} ({settings.model.size}, "
        f"pretrain stopped: {(train.get('pretrain') or {}).get('stopped_because')})",
        "windows_scored": score["rows_scored"],
        "flagged": score["flagged"],
        "alert_rate": settings.training.alert_rate,
        "threshold": threshold,
        "top_sessions": anomaly_report.top_sessions(labels, settings.evaluation.top_sessions),
        "label_relation": anomaly_report.label_relation(
            labels, windows, invert=label_is_benign(settings), seed=settings.training.seed
        ),
        "histogram": str(
            anomaly_report.score_histogram(labels, out_dir / "score_histogram.png", threshold)
        ),
    }
    labels.unpersist()
    paths = anomaly_report.write(report, out_dir)
    seconds["report"] = round(time.monotonic() - t, 1)
    rel = report["label_relation"]
    return {
        "rows_read": ingest["rows_read"],
        "accepted": ingest["accepted"],
        "quarantined": ingest["quarantined"],
        "duplicate": ingest["duplicate"],
        "windows": sess["windows"],
        "registered_model": train["registered_model"],
        "version": train["version"],
        "pretrain": train.get("pretrain"),
        "rows_scored": score["rows_scored"],
        "flagged": score["flagged"],
        "flagged_rate": score["flagged_rate"],
        "label_relation": rel,
        "report": [str(p) for p in paths],
        "histogram": report["histogram"],
        "seconds": seconds,
        "tables": {**sess["tables"], **score["tables"]},
    }
