"""The training job's one function: windows of a date range -> registered challenger.

Split by time and user (:mod:`ubsd.training.splits`): training windows stream from the table's
files; validation and test windows (capped) are held in memory. Pretrain, fine-tune, pick the
threshold on validation, measure on test, log everything to one MLflow run, register the model
and give it the challenger alias. Promotion is a separate, gated step (``jobs/promote.py``).
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from pyspark.sql import SparkSession

from ubsd.config import Settings
from ubsd.evaluation.metrics import score_metrics
from ubsd.io.paths import resolve_under
from ubsd.io.window_arrays import WindowArrays, iter_window_batches, snapshot_files
from ubsd.registry.publish import log_and_register
from ubsd.registry.tracking import configure
from ubsd.runs import RunContext
from ubsd.sessionize.spec import feature_spec
from ubsd.training.splits import SplitPlan
from ubsd.training.trainer import TrainSource, pretrained_encoder, train_model

log = logging.getLogger("ubsd.train")


class TrainingDataError(ValueError):
    """The date range holds no usable training data."""


def split_plan(settings: Settings, dates: list) -> SplitPlan:
    ev = settings.evaluation
    return SplitPlan.from_dates(
        dates,
        ev.train_date_fraction,
        ev.validation_user_fraction,
        ev.test_user_fraction,
        ev.split_seed,
    )


def load_side(
    files: list[str], plan: SplitPlan, side: str, window_length: int, cap: int, seed: int
) -> WindowArrays:
    """Windows of one split side from ``files``, reservoir-capped at ``cap`` (bounded memory)."""
    rng = np.random.default_rng(seed)
    kept: WindowArrays | None = None
    for part in iter_window_batches(files, window_length):
        part = part.take(plan.sides(part) == side)
        if part.n == 0:
            continue
        kept = part if kept is None else WindowArrays.concat([kept, part])
        if kept.n > cap:
            kept = kept.take(np.sort(rng.choice(kept.n, cap, replace=False)))
    if kept is None:
        raise TrainingDataError(f"no {side} windows in the evaluation dates {plan.eval_dates}")
    return kept


def check_feature_version(w: WindowArrays, expected: str) -> None:
    found = set(map(str, w.meta.get("feature_version", [])))
    if found - {expected}:
        raise TrainingDataError(
            f"windows carry feature spec(s) {sorted(found)} but the sessionize settings give "
            f"{expected}: re-sessionize the range or align sessionize.* with the windows"
        )


def run_train(spark: SparkSession, settings: Settings, ctx: RunContext) -> dict[str, Any]:
    import mlflow

    cfg = settings.training
    spec = feature_spec(settings.sessionize)
    table = resolve_under(settings.storage.root, settings.storage.windows_table)
    plan = split_plan(settings, ctx.dates)
    train_files = snapshot_files(spark, table, settings.storage.format, list(plan.train_dates))
    eval_files = snapshot_files(spark, table, settings.storage.format, list(plan.eval_dates))
    if not train_files:
        raise TrainingDataError(f"no windows on the training dates {plan.train_dates} in {table}")
    length = spec.window_length
    val = load_side(eval_files, plan, "validation", length, cfg.val_windows, cfg.seed)
    test_cap = settings.evaluation.max_test_windows
    test = load_side(eval_files, plan, "test", length, test_cap, cfg.seed)
    check_feature_version(val, spec.version)
    source = TrainSource(length, files=train_files, keep=lambda w: plan.sides(w) == "train")
    exp_id = configure(settings)
    with mlflow.start_run(experiment_id=exp_id, run_name=f"train-{ctx.label}") as run:
        mlflow.log_params(
            {
                "dates": ctx.label,
                "size": settings.model.size,
                "head": settings.model.head,
                "finetune_mode": cfg.finetune_mode,
                "feature_version": spec.version,
                **{f"training.{k}": v for k, v in cfg.model_dump().items()},
            }
        )
        mlflow.log_dict(plan.describe(), "split.json")

        def log_metrics(m: dict[str, float], step: int) -> None:
            mlflow.log_metrics({k: float(v) for k, v in m.items()}, step=step)

        if cfg.num_processes > 1:
            model = _train_ddp(settings, plan, train_files, val)
            phases = {
                "pretrain": model.info.get("pretrain"),
                "finetune": model.info.get("finetune"),
            }
        else:
            pre = pretrained_encoder(source, val, settings, spec, log_metrics)
            result = train_model(source, val, settings, spec, log_metrics, pretrained=pre)
            model = result.model
            phases = {
                "pretrain": result.pretrain.as_dict(),
                "finetune": result.finetune.as_dict() if result.finetune else None,
            }
        prob, zl = model.score_arrays(test.features)
        y = test.labels
        metrics: dict[str, Any] = {"test_windows": test.n, "validation_windows": val.n}
        if y is not None and 0 < y.sum() < y.size:
            zl_m = score_metrics(y, zl, model.zero_label_threshold, test.fraud_types)
            metrics["zero_label"] = zl_m
            if prob is not None:
                metrics["detector"] = score_metrics(y, prob, model.threshold, test.fraud_types)
        flat = _flat_metrics(metrics)
        with tempfile.TemporaryDirectory() as tmp:
            f = Path(tmp) / "test_metrics.json"
            f.write_text(json.dumps(metrics, indent=2, default=str))
            reg = log_and_register(
                settings,
                model,
                params={},
                metrics=flat,
                files=[f],
                tags={"ubsd.train_dates": ctx.label, "ubsd.run_id": ctx.run_id},
            )
        models_dir = Path(resolve_under(settings.storage.root, cfg.models_dir))
        if "://" not in str(models_dir):
            model.save(models_dir / ctx.run_id)
        return {
            "registered_model": reg.name,
            "version": reg.version,
            "alias": reg.alias,
            "mlflow_run_id": run.info.run_id,
            "model_version": model.version,
            "feature_version": spec.version,
            "split": plan.describe(),
            **phases,
            "processes": cfg.num_processes,
            "threshold": model.threshold,
            "zero_label_threshold": model.zero_label_threshold,
            "test": flat,
        }


def _train_ddp(
    settings: Settings, plan: SplitPlan, train_files: list[str], val: WindowArrays
) -> Any:
    """Train on ``training.num_processes`` DDP processes (TorchDistributor); load rank 0's model."""
    from ubsd.model.artifact import load_model
    from ubsd.training.distributed import train_with_distributor

    with tempfile.TemporaryDirectory() as tmp:
        val_dir = Path(tmp) / "val"
        val_dir.mkdir()
        val.to_parquet(str(val_dir / "part-0.parquet"))
        out = train_with_distributor(settings, plan, train_files, str(val_dir), f"{tmp}/model")
        return load_model(out)


def _flat_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for group in ("detector", "zero_label"):
        m = metrics.get(group) or {}
        for k in ("roc_auc", "pr_auc", "f1", "precision", "recall", "recall_at_1pct_fpr"):
            if isinstance(m.get(k), int | float):
                out[f"test_{group}_{k}"] = float(m[k])
        for t, tm in (m.get("per_type") or {}).items():
            r = tm.get("recall_at_threshold")
            if isinstance(r, int | float):
                out[f"test_{group}_recall_{t}"] = float(r)
    return out
