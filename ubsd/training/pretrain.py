"""Self-supervised masked-event pretraining, stopped on convergence.

Rule: evaluate every ``eval_every`` steps on a fixed validation set (fixed masking); stop when
the validation loss has not improved by ``min_delta`` for ``patience`` evaluations, or at
``max_pretrain_steps``, or after ``max_minutes``, whichever comes first; keep the best weights.
Masked-sequence models need far more steps than default epoch counts suggest, so the caps are
budgets, not targets.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ubsd.config import TrainingSettings
from ubsd.io.window_arrays import WindowArrays
from ubsd.model.network import BehaviorNet
from ubsd.model.vocab import Vocabulary
from ubsd.training.device import any_rank, autocast_dtype, seed_offset, sync_gradients
from ubsd.training.tensors import random_hide, to_tensors

log = logging.getLogger("ubsd.training")
MetricLogger = Callable[[dict[str, float], int], None]


@dataclass
class PhaseResult:
    """What a training phase did and why it stopped."""

    steps: int = 0
    best_step: int = 0
    best: float = float("nan")
    stopped_because: str = ""
    seconds: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "best_step": self.best_step,
            "best": self.best,
            "stopped_because": self.stopped_because,
            "seconds": round(self.seconds, 1),
            "last": self.history[-1] if self.history else {},
        }


def masked_loss(
    net: BehaviorNet,
    feats: dict[str, torch.Tensor],
    mask: torch.Tensor,
    hide: torch.Tensor,
) -> tuple[torch.Tensor, dict[str, tuple[float, float]]]:
    """Summed cross-entropy over the predicted fields at hidden events; per-field (loss, acc)."""
    hidden = net.encode(feats, mask, hide)
    total = torch.zeros((), device=mask.device)
    per: dict[str, tuple[float, float]] = {}
    sel = hide.bool()
    for f, logits in net.mlm_logits(hidden[sel]).items():
        target = feats[f][sel]
        loss = torch.nn.functional.cross_entropy(logits.float(), target)
        total = total + loss
        acc = (logits.argmax(-1) == target).float().mean()
        per[f] = (float(loss.detach()), float(acc))
    return total, per


@torch.no_grad()
def evaluate_masked(
    net: BehaviorNet,
    val: WindowArrays,
    vocab: Vocabulary,
    cfg: TrainingSettings,
    device: torch.device,
) -> dict[str, float]:
    net.eval()
    gen = torch.Generator().manual_seed(cfg.seed + 1)  # same masking at every evaluation
    sums: dict[str, float] = {}
    weight = 0
    for start in range(0, val.n, 256):
        part = val.take(np.arange(start, min(start + 256, val.n)))
        feats, mask = to_tensors(part, vocab, device)
        hide = random_hide(mask, cfg.mask_prob, gen)
        loss, per = masked_loss(net, feats, mask, hide)
        k = int(hide.sum())
        weight += k
        sums["loss"] = sums.get("loss", 0.0) + float(loss) * k
        for f, (lf, acc) in per.items():
            sums[f"loss_{f}"] = sums.get(f"loss_{f}", 0.0) + lf * k
            sums[f"acc_{f}"] = sums.get(f"acc_{f}", 0.0) + acc * k
    net.train()
    return {k: v / max(weight, 1) for k, v in sums.items()}


def pretrain(
    net: BehaviorNet,
    batches: Iterator[WindowArrays],
    val: WindowArrays,
    vocab: Vocabulary,
    cfg: TrainingSettings,
    device: torch.device,
    log_metrics: MetricLogger | None = None,
    progress: bool = True,
) -> PhaseResult:
    """Masked-event pretraining of ``net`` in place; returns what happened."""
    res = PhaseResult()
    if cfg.max_pretrain_steps == 0:
        res.stopped_because = "max_pretrain_steps=0"
        return res
    net.to(device).train()
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.pretrain_lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / max(1, min(200, cfg.max_pretrain_steps // 10)))
    )
    gen = torch.Generator().manual_seed(cfg.seed + seed_offset())
    amp = autocast_dtype(device)
    best_state, bad = None, 0
    t0 = time.monotonic()
    bar = tqdm(total=cfg.max_pretrain_steps, desc="pretrain", disable=not progress, leave=False)
    for step, batch in enumerate(batches, start=1):
        feats, mask = to_tensors(batch, vocab, device)
        hide = random_hide(mask, cfg.mask_prob, gen)
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            loss, _ = masked_loss(net, feats, mask, hide)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        sync_gradients(net.parameters())
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
        bar.update(1)
        res.steps = step
        done = step >= cfg.max_pretrain_steps
        timeout = any_rank(time.monotonic() - t0 > cfg.max_minutes * 60, device)
        if step % cfg.eval_every == 0 or done or timeout:
            m = evaluate_masked(net, val, vocab, cfg, device)
            m["train_loss"] = float(loss.detach())
            m["step"] = step
            res.history.append(m)
            bar.set_postfix(val_loss=f"{m['loss']:.3f}")
            if log_metrics:
                log_metrics({f"pretrain_{k}": v for k, v in m.items() if k != "step"}, step)
            if best_state is None or m["loss"] < res.best - cfg.min_delta:
                res.best, res.best_step, bad = m["loss"], step, 0
                best_state = copy.deepcopy(net.state_dict())
            else:
                bad += 1
            if any_rank(bad >= cfg.patience, device):
                res.stopped_because = f"no validation improvement for {bad} evaluations"
                break
        if done:
            res.stopped_because = "max_pretrain_steps"
            break
        if timeout:
            res.stopped_because = "max_minutes"
            break
    bar.close()
    if best_state is not None:
        net.load_state_dict(best_state)
    res.seconds = time.monotonic() - t0
    log.info("pretraining: %s", res.as_dict())
    net.eval()
    return res
