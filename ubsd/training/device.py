"""Where training and inference run: the GPU when one is visible (bf16 autocast), else CPU."""

from __future__ import annotations

import os
from collections.abc import Iterable

import torch


def pick_device(choice: str = "auto") -> torch.device:
    if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise RuntimeError("training.device=cuda but no GPU is visible to this process")
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """bf16 on GPUs that support it; None (fp32) on CPU, where training stays exact."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None


def _world() -> int:
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def seed_offset() -> int:
    """Different sampling per DDP rank (0 outside distributed training)."""
    import torch.distributed as dist

    return dist.get_rank() * 7919 if _world() > 1 else 0


def sync_gradients(params: Iterable[torch.nn.Parameter]) -> None:
    """Average gradients across DDP ranks (a no-op in one process).

    Done by hand rather than by wrapping in DistributedDataParallel because the training loops
    call the model's named methods (encode, heads), not ``forward``.
    """
    world = _world()
    if world == 1:
        return
    import torch.distributed as dist

    for p in params:
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad /= world


def any_rank(flag: bool, device: torch.device | None = None) -> bool:
    """True on every rank when ``flag`` is true on any rank (``flag`` itself in one process).

    Stop decisions that depend on the clock (``max_minutes``) differ between ranks; a rank that
    stops alone leaves the others blocked in the next gradient all-reduce.
    """
    if _world() == 1:
        return flag
    import torch.distributed as dist

    # nccl reduces only tensors on the GPU; gloo those on the CPU.
    t = torch.tensor([1 if flag else 0], dtype=torch.int64, device=device or "cpu")
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())
