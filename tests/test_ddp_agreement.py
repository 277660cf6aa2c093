"""Stop decisions agree across DDP ranks, so a rank never stops alone and leaves the other
blocked in the next gradient all-reduce (two real gloo processes, no Spark)."""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from ubsd.training.device import any_rank


def _rank(rank: int, init_file: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        # Only rank 1 has run past its time budget; only rank 0 has lost patience.
        clock = any_rank(rank == 1)
        patience = any_rank(rank == 0)
        neither = any_rank(False)
        torch.save([clock, patience, neither], f"{out}.{rank}")
    finally:
        dist.destroy_process_group()


def test_any_rank_is_true_on_every_rank_when_one_rank_says_so(tmp_path):
    out = str(tmp_path / "flags")
    mp.spawn(_rank, args=(str(tmp_path / "init"), out), nprocs=2, join=True)
    assert [torch.load(f"{out}.{r}") for r in (0, 1)] == [[True, True, False]] * 2


def test_any_rank_outside_distributed_training_is_the_flag_itself():
    assert any_rank(True) is True and any_rank(False) is False
