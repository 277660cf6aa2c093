"""The promotion job's one function: challenger vs champion on the same held-out windows.

Both models score the windows of the run's dates (held out: choose dates after the
challenger's training range). The gate (:mod:`ubsd.promotion.gate`) decides; the decision is
recorded as tags on the challenger's model version and as a JSON record under
``<root>/promotions/``. Only an accepted challenger moves the champion alias; a refusal raises
:class:`PromotionRefusedError` (non-zero exit) and leaves the champion serving.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from ubsd.config import Settings
from ubsd.evaluation.metrics import score_metrics
from ubsd.io.paths import resolve_under
from ubsd.io.window_arrays import WindowArrays, load_windows
from ubsd.model.artifact import BehaviorModel
from ubsd.promotion.gate import Decision, decide
from ubsd.registry.resolve import RegistryError, ResolvedModel, resolve
from ubsd.runs import RunContext

log = logging.getLogger("ubsd.promotion")


class PromotionRefusedError(RuntimeError):
    """The gate refused the challenger; the champion keeps serving."""


def model_metrics(model: BehaviorModel, windows: WindowArrays) -> dict[str, Any]:
    y = windows.labels
    if y is None or not 0 < y.sum() < y.size:
        raise ValueError("promotion needs held-out windows with both labels present")
    prob, _ = model.score_arrays(windows.features, zero_label=False)
    if prob is None:
        raise ValueError("the model has no fraud classifier (pretrained only): cannot promote")
    m = score_metrics(y, prob, model.threshold, windows.fraud_types)
    m["recall_by_type"] = {
        t: v.get("recall_at_threshold") for t, v in (m.get("per_type") or {}).items()
    }
    return m


def _record(settings: Settings, record: dict[str, Any]) -> str:
    root = resolve_under(settings.storage.root, settings.promotion.records_dir)
    if "://" in root:
        root = str(Path(settings.storage.runs_dir).resolve() / "promotions")
    out = Path(root) / f"{record['decided_at'].replace(':', '')}-v{record['challenger']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2, default=str))
    return str(out)


def run_promotion(spark: SparkSession, settings: Settings, ctx: RunContext) -> dict[str, Any]:
    import mlflow

    ml = settings.mlflow
    challenger = resolve(settings, alias=ml.challenger_alias)
    try:
        champion: ResolvedModel | None = resolve(settings, alias=ml.champion_alias)
    except RegistryError as exc:
        if "alias" not in str(exc).lower() and "not found" not in str(exc).lower():
            raise
        champion = None
    if champion is not None and champion.version == challenger.version:
        return {
            "decision": "noop",
            "reason": "challenger is already the champion",
            "version": challenger.version,
        }
    ch_model = challenger.load()
    table = resolve_under(settings.storage.root, settings.storage.windows_table)
    windows = load_windows(
        spark,
        table,
        settings.storage.format,
        ch_model.spec.window_length,
        ctx.dates,
        max_windows=settings.evaluation.max_test_windows,
    )
    if windows is None:
        raise ValueError(f"no held-out windows on {ctx.label} in {table}")
    ch_model.check_spec(str(windows.meta["feature_version"][0]))
    ch_metrics = model_metrics(ch_model, windows)
    champ_metrics = None
    if champion is not None:
        cm = champion.load()
        cm.check_spec(ch_model.spec.version)
        champ_metrics = model_metrics(cm, windows)
    decision: Decision = decide(ch_metrics, champ_metrics, settings.promotion)
    record = {
        "decided_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "model": ml.registered_model,
        "challenger": challenger.version,
        "champion": champion.version if champion else None,
        "held_out_dates": ctx.label,
        "held_out_windows": windows.n,
        "promote": decision.promote,
        "reasons": decision.reasons,
        "checks": decision.checks,
        "challenger_metrics": {k: ch_metrics[k] for k in ("roc_auc", "pr_auc", "recall_by_type")},
        "champion_metrics": None
        if champ_metrics is None
        else {k: champ_metrics[k] for k in ("roc_auc", "pr_auc", "recall_by_type")},
        "run_id": ctx.run_id,
    }
    client = mlflow.MlflowClient()
    tags = {
        "ubsd.promotion.decision": "promoted" if decision.promote else "refused",
        "ubsd.promotion.decided_at": record["decided_at"],
        "ubsd.promotion.reasons": "; ".join(decision.reasons or decision.checks)[:4000],
        "ubsd.promotion.champion_before": str(record["champion"]),
    }
    for k, v in tags.items():
        client.set_model_version_tag(ml.registered_model, challenger.version, k, v)
    record["record_file"] = _record(settings, record)
    if not decision.promote:
        raise PromotionRefusedError(
            f"challenger {ml.registered_model} v{challenger.version} refused "
            f"(champion stays v{record['champion']}): " + "; ".join(decision.reasons)
        )
    client.set_registered_model_alias(ml.registered_model, ml.champion_alias, challenger.version)
    log.info("promoted %s v%s to %s", ml.registered_model, challenger.version, ml.champion_alias)
    return record
