"""Log a trained model to MLflow as a pyfunc and register it as the challenger."""

from __future__ import annotations

import contextlib
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
from mlflow.models import infer_signature

from ubsd.config import Settings
from ubsd.model.artifact import BehaviorModel
from ubsd.registry.pyfunc import ARTIFACT_KEY, BehaviorPyfunc, input_example
from ubsd.registry.tracking import configure

log = logging.getLogger("ubsd.registry")


@dataclass(frozen=True)
class Registered:
    name: str
    version: str
    run_id: str
    alias: str


def _requirements() -> list[str]:
    """Explicit pip requirements (inference is slow and would guess from the whole env)."""
    from importlib.metadata import version

    pkgs = ["torch", "transformers", "safetensors", "peft", "numpy", "pandas", "mlflow"]
    return [f"{p}=={version(p)}" for p in pkgs]


def log_and_register(
    settings: Settings,
    model: BehaviorModel,
    params: dict[str, Any],
    metrics: dict[str, float],
    files: list[Path] | None = None,
    run_name: str | None = None,
    tags: dict[str, str] | None = None,
) -> Registered:
    """One MLflow run: params, metrics, report files, the model; register; alias challenger."""
    exp_id = configure(settings)
    name = settings.mlflow.registered_model
    active = mlflow.active_run()
    run_ctx = (
        contextlib.nullcontext(active)
        if active is not None
        else mlflow.start_run(experiment_id=exp_id, run_name=run_name)
    )
    with tempfile.TemporaryDirectory() as tmp, run_ctx as run:
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        if metrics:
            mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v == v})
        mlflow.set_tags(
            {
                "ubsd.feature_version": model.spec.version,
                "ubsd.model_version": model.version,
                **(tags or {}),
            }
        )
        for f in files or []:
            mlflow.log_artifact(str(f), artifact_path="report")
        model_dir = model.save(Path(tmp) / "model")
        mlflow.log_text(model.spec.to_json(), "feature_spec.json")
        example = input_example(model.spec.window_length, model.spec.version)
        out = BehaviorPyfunc()
        from ubsd.model.artifact import load_model

        out.model = load_model(model_dir)
        signature = infer_signature(example, out.predict(None, example))
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=BehaviorPyfunc(),
            artifacts={ARTIFACT_KEY: str(model_dir)},
            signature=signature,
            input_example=example,
            pip_requirements=_requirements(),
            registered_model_name=name,
            metadata={
                "ubsd_feature_version": model.spec.version,
                "ubsd_model_version": model.version,
                "ubsd_threshold": model.threshold,
                "ubsd_mode": model.mode,
            },
        )
        version = str(info.registered_model_version)
        client = mlflow.MlflowClient()
        client.set_registered_model_alias(name, settings.mlflow.challenger_alias, version)
        client.set_model_version_tag(name, version, "ubsd.feature_version", model.spec.version)
        client.set_model_version_tag(name, version, "ubsd.model_version", model.version)
        log.info("registered %s version %s as %s", name, version, settings.mlflow.challenger_alias)
        return Registered(name, version, run.info.run_id, settings.mlflow.challenger_alias)
