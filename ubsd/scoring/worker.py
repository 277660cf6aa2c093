"""Load the pinned model inside a Python worker (once; predict_batch_udf caches it per worker).

In local mode the driver's download directory is on the same disk and is loaded directly. On a
cluster that path does not exist on executors: each worker downloads the pinned
``models:/name/version`` itself (same registry, same version: never the alias, which could move
during the run), into a temporary folder.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch

from ubsd.config import Settings
from ubsd.model.artifact import BehaviorModel, load_model
from ubsd.registry.resolve import resolve
from ubsd.scoring.pin import PinnedModel
from ubsd.scoring.runtime import autocast_dtype, pick_device, quantize_int8, set_threads


def model_dir(pinned: PinnedModel, settings: Settings) -> Path:
    local = Path(pinned.local_dir)
    if (local / "ubsd_model.json").is_file():
        return local
    cache = tempfile.mkdtemp(prefix=f"ubsd-{pinned.name}-{pinned.version}-")
    return resolve(settings, version=pinned.version, cache_dir=cache).local_dir


def load_for_inference(
    pinned: PinnedModel, settings: Settings
) -> tuple[BehaviorModel, torch.device, torch.dtype | None]:
    """The model on its device, threads set, reduced precision applied as configured."""
    cfg = settings.scoring
    device = pick_device(cfg)
    set_threads(cfg, device)
    model = load_model(model_dir(pinned, settings), device=device)
    if model.version != pinned.model_digest:
        raise RuntimeError(f"{pinned.what}: executor loaded different weights than the driver")
    if cfg.precision == "int8" and device.type == "cpu":
        model.net = quantize_int8(model.net)
    return model, device, autocast_dtype(cfg, device)


def stacked_features(x: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """(B, F, L) -> {name: (B, L)}: the UDF receives all arrays as one flattened tensor column."""
    return {name: x[:, i, :] for i, name in enumerate(names)}
