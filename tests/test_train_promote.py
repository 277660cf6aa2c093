"""Training job -> MLflow registry -> gated promotion, on real Spark, Delta and MLflow (sqlite).

Windows are hand-made (numpy shoppers and click bots) and written to a real Delta windows table
over five days; the tiny model trains in seconds.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import mlflow
import pytest
from helpers import TINY_TRAINING, make_settings
from window_factory import multi_day_windows, write_windows_table

from ubsd.promotion.promote import PromotionRefusedError, run_promotion
from ubsd.registry.resolve import RegistryError, resolve
from ubsd.runs import RunContext
from ubsd.sessionize.spec import feature_spec

DAYS = [dt.date(2026, 11, d) for d in range(1, 6)]
FAST = [
    *TINY_TRAINING,
    "training.target_precision=0.8",
    "evaluation.train_date_fraction=0.6",
]


@pytest.fixture(scope="module")
def trained(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    settings = make_settings(root, *FAST)
    spec = feature_spec(settings.sessionize)
    write_windows_table(spark, settings, multi_day_windows(spec, DAYS, 150, 30))
    from ubsd.pipeline.train import run_train

    summary = run_train(spark, settings, RunContext("train", DAYS[:4]))
    return settings, summary


def test_train_registers_a_challenger_with_its_evidence(trained):
    settings, summary = trained
    assert summary["alias"] == "challenger" and summary["version"] == "1"
    assert summary["split"]["train_dates"] == ["2026-11-01", "2026-11-02"]
    assert summary["pretrain"]["stopped_because"]
    assert summary["test"]["test_detector_roc_auc"] >= 0.9
    assert summary["test"]["test_zero_label_roc_auc"] >= 0.8  # 60 pretraining steps only
    client = mlflow.MlflowClient()
    mv = client.get_model_version_by_alias("ubsd-behavior", "challenger")
    run = client.get_run(mv.run_id)
    assert "pretrain_loss" in run.data.metrics and "finetune_val_pr_auc" in run.data.metrics
    assert mv.tags["ubsd.feature_version"] == feature_spec(settings.sessionize).version
    arts = {a.path for a in client.list_artifacts(mv.run_id)}
    assert {"split.json", "feature_spec.json", "report"} <= arts
    # The registered pyfunc scores windows (safetensors inside, no torch pickle).
    resolved = resolve(settings, alias="challenger")
    assert (resolved.local_dir / "network" / "model.safetensors").is_file()
    assert not list(Path(resolved.local_dir).rglob("*.pkl")) and not list(
        Path(resolved.local_dir).rglob("*.pt")
    )


def test_promotion_gate_accepts_then_refuses_a_worse_challenger(spark, trained, tmp_path):
    settings, _ = trained
    with pytest.raises(RegistryError, match="champion"):
        resolve(settings, alias="champion")
    held_out = RunContext("promote", DAYS[3:])
    first = run_promotion(spark, settings, held_out)
    assert first["promote"] and first["champion"] is None
    assert resolve(settings, alias="champion").version == "1"

    # A challenger that barely trained must be refused, and the champion stays.
    from ubsd.pipeline.train import run_train

    worse = settings.model_copy(
        update={
            "training": settings.training.model_copy(
                update={
                    "max_pretrain_steps": 1,
                    "max_finetune_steps": 1,
                    "eval_every": 1,
                    "seed": 5,
                }
            )
        }
    )
    run_train(spark, worse, RunContext("train", DAYS[:4]))
    assert resolve(settings, alias="challenger").version == "2"
    with pytest.raises(PromotionRefusedError, match="refused"):
        run_promotion(spark, settings, held_out)
    assert resolve(settings, alias="champion").version == "1"
    tags = mlflow.MlflowClient().get_model_version("ubsd-behavior", "2").tags
    assert tags["ubsd.promotion.decision"] == "refused"
    records = sorted((Path(settings.storage.root) / "promotions").glob("*.json"))
    assert [json.loads(r.read_text())["promote"] for r in records] == [True, False]


@pytest.mark.slow
def test_training_on_two_ddp_processes_through_torch_distributor(spark, tmp_path):
    """--num-processes 2: TorchDistributor in local mode, gloo, gradients averaged per step."""
    settings = make_settings(
        tmp_path, *FAST, "training.num_processes=2", "mlflow.registered_model=ubsd-ddp"
    )
    spec = feature_spec(settings.sessionize)
    write_windows_table(spark, settings, multi_day_windows(spec, DAYS, 120, 10, seed=3))
    from ubsd.pipeline.train import run_train

    summary = run_train(spark, settings, RunContext("train", DAYS[:4]))
    assert summary["processes"] == 2 and summary["version"] == "1"
    model = resolve(settings, alias="challenger").load()
    assert model.info["ddp_processes"] == 2
    assert summary["test"]["test_detector_roc_auc"] >= 0.8
