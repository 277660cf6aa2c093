"""Training on several processes through Spark's TorchDistributor (DDP), for teams that outgrow
one machine. The same training function runs on every rank; gradients are averaged each step
(:func:`ubsd.training.device.sync_gradients`), each rank samples its own batches, and rank 0
writes the model directory the driver then evaluates and registers.

In local mode (tests, one machine) the processes run beside the driver on CPU with gloo.
"""

from __future__ import annotations

import json
import os
from typing import Any


def _train_on_rank(settings_json: str, train_files: list[str], val_dir: str, out_dir: str) -> str:
    import torch
    import torch.distributed as dist

    from ubsd.config import Settings
    from ubsd.io.window_arrays import iter_window_batches
    from ubsd.sessionize.spec import feature_spec
    from ubsd.training.splits import SplitPlan
    from ubsd.training.trainer import TrainSource, pretrained_encoder, train_model

    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    torch.set_num_threads(max(1, (os.cpu_count() or 2) // dist.get_world_size()))
    payload = json.loads(settings_json)
    settings = Settings.model_validate(payload["settings"])
    plan = SplitPlan(**payload["plan"])  # ISO date strings, parsed by SplitPlan
    spec = feature_spec(settings.sessionize)
    from pathlib import Path

    from ubsd.io.window_arrays import WindowArrays

    files = sorted(str(p) for p in Path(val_dir).glob("*.parquet"))
    val = WindowArrays.concat(list(iter_window_batches(files, spec.window_length)))
    source = TrainSource(
        spec.window_length, files=train_files, keep=lambda w: plan.sides(w) == "train"
    )
    pre = pretrained_encoder(source, val, settings, spec, progress=dist.get_rank() == 0)
    result = train_model(source, val, settings, spec, pretrained=pre, progress=dist.get_rank() == 0)
    if dist.get_rank() == 0:
        result.model.info["ddp_processes"] = dist.get_world_size()
        result.model.save(out_dir)
    dist.barrier()
    return out_dir


def train_with_distributor(
    settings: Any, plan: Any, train_files: list[str], val_dir: str, out_dir: str
) -> str:
    """Run the training function on ``training.num_processes`` DDP processes; the model dir."""
    from pyspark.ml.torch.distributor import TorchDistributor

    use_gpu = settings.training.device == "cuda"
    payload = json.dumps(
        {
            "settings": settings.model_dump(mode="json"),
            "plan": {
                "train_dates": [d.isoformat() for d in plan.train_dates],
                "eval_dates": [d.isoformat() for d in plan.eval_dates],
                "validation_user_fraction": plan.validation_user_fraction,
                "test_user_fraction": plan.test_user_fraction,
                "seed": plan.seed,
            },
        }
    )
    dist = TorchDistributor(
        num_processes=settings.training.num_processes,
        local_mode=settings.spark.master is not None and settings.spark.master.startswith("local"),
        use_gpu=use_gpu,
    )
    return dist.run(_train_on_rank, payload, list(train_files), val_dir, out_dir)
