"""The evaluation job's one function: every method on one time- and user-split of a date range.

Loads the range's windows (capped, sampled), splits them (:mod:`ubsd.training.splits`), fits
and scores the transformer (full, LoRA, zero-label) and every baseline through the same
detector contract, runs leave-one-fraud-type-out, writes the report (JSON, Markdown, PNG) under
``<root>/<evaluation.report_dir>/<dates>/`` and logs it to MLflow.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from ubsd.config import Settings
from ubsd.evaluation.methods import BASELINES, transformer_methods
from ubsd.evaluation.report import evaluate, leave_one_type_out, write_report
from ubsd.io.paths import resolve_under
from ubsd.io.window_arrays import load_windows
from ubsd.registry.tracking import configure
from ubsd.runs import RunContext
from ubsd.training.splits import split_from_settings

log = logging.getLogger("ubsd.evaluate")


def run_evaluate(spark: SparkSession, settings: Settings, ctx: RunContext) -> dict[str, Any]:
    import mlflow

    table = resolve_under(settings.storage.root, settings.storage.windows_table)
    windows = load_windows(
        spark,
        table,
        settings.storage.format,
        settings.sessionize.window_length,
        ctx.dates,
        max_windows=settings.evaluation.max_test_windows,
    )
    if windows is None:
        raise ValueError(f"no windows on {ctx.label} in {table}")
    split = split_from_settings(windows, settings.evaluation)
    factories = {**transformer_methods(settings), **BASELINES}
    tp, fpr = settings.training.target_precision, settings.evaluation.max_fpr
    result = evaluate(factories, split, tp, fpr, log=log.info)
    result["split"] = split.summary
    result["size"] = settings.model.size
    loto = {n: f for n, f in factories.items() if n != "transformer_fused"}  # main run only
    result["leave_one_type_out"] = leave_one_type_out(
        loto, split, tp, fpr, fitted=result["_fitted"], log=log.info
    )
    out = Path(resolve_under(settings.storage.root, settings.evaluation.report_dir)) / ctx.label
    paths = write_report(result, out)
    exp = configure(settings)
    with mlflow.start_run(experiment_id=exp, run_name=f"evaluate-{ctx.label}"):
        for name, m in result["methods"].items():
            mlflow.log_metrics(
                {f"{name}_{k}": float(v) for k, v in m.items() if isinstance(v, int | float)}
            )
        for p in paths:
            mlflow.log_artifact(str(p), artifact_path="report")
    return {
        "report": str(out),
        "methods": {
            n: {k: m.get(k) for k in ("roc_auc", "pr_auc", "f1", "recall_at_1pct_fpr")}
            for n, m in result["methods"].items()
        },
        "windows": split.summary.get("windows"),
    }
