"""Where and how the model runs inside a Python worker: device, threads, precision.

On a cluster GPU executor the task's assigned GPU comes from Spark's TaskContext; in local mode
no GPU resource settings exist (Spark hangs with them), so a GPU visible to the process is used
as ``cuda:0``. On CPU, each concurrent task gets ``spark.task.cpus`` torch threads, so tasks do
not oversubscribe the executor's cores.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from ubsd.config import ScoringSettings

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": None, "int8": None}


def task_gpu() -> int | None:
    """The GPU address Spark assigned to the running task, if any."""
    try:
        from pyspark import TaskContext

        ctx = TaskContext.get()
        if ctx is None:
            return None
        gpus = ctx.resources().get("gpu")
        return int(gpus.addresses[0]) if gpus and gpus.addresses else None
    except Exception:  # outside a task, or resources not configured
        return None


def task_cpus() -> int:
    try:
        from pyspark import TaskContext

        ctx = TaskContext.get()
        return max(1, int(ctx.cpus())) if ctx is not None else max(1, os.cpu_count() or 1)
    except Exception:
        return 1


def pick_device(cfg: ScoringSettings) -> torch.device:
    if cfg.device == "cpu" or (cfg.device == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise RuntimeError("scoring.device=cuda but no GPU is visible to this Python worker")
    gpu = task_gpu()
    return torch.device("cuda", gpu if gpu is not None else 0)


def autocast_dtype(cfg: ScoringSettings, device: torch.device) -> torch.dtype | None:
    """Autocast dtype: ``gpu_precision`` on a GPU, ``precision`` (bf16 only) on CPU."""
    if device.type == "cuda":
        return _DTYPES[cfg.gpu_precision]
    return _DTYPES[cfg.precision]


def set_threads(cfg: ScoringSettings, device: torch.device) -> int:
    n = cfg.torch_threads or task_cpus()
    if device.type == "cpu":
        torch.set_num_threads(n)
    return n


def quantize_int8(net: Any) -> Any:
    """int8 dynamic quantization of Linear layers through torchao (torch's recommended path;
    ``torch.ao.quantization.quantize_dynamic`` is deprecated)."""
    try:
        from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_
    except ImportError:
        raise RuntimeError(
            "scoring.precision=int8 needs the torchao package (pip install torchao); "
            "use fp32 or bf16 without it"
        ) from None
    quantize_(net, Int8DynamicActivationInt8WeightConfig())
    return net
