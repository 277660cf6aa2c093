"""Fine-tuning the fraud head on the pretrained encoder: full, or LoRA adapters via peft.

Class imbalance: positives weighted by negatives/positives (capped). Early stopping on
validation PR-AUC (``patience`` evaluations without ``min_delta`` gain), within the step and
time caps; the best weights are kept.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from sklearn.metrics import average_precision_score
from tqdm.auto import tqdm

from ubsd.config import TrainingSettings
from ubsd.io.window_arrays import WindowArrays
from ubsd.model.network import BehaviorNet
from ubsd.model.vocab import Vocabulary
from ubsd.training.augment import augment
from ubsd.training.device import any_rank, autocast_dtype, seed_offset, sync_gradients
from ubsd.training.pretrain import MetricLogger, PhaseResult
from ubsd.training.tensors import labels_of, to_tensors

log = logging.getLogger("ubsd.training")

#: Modules LoRA adapts (BERT attention projections); the head is trained in full.
LORA_TARGETS = ["query", "key", "value"]


def with_lora(net: BehaviorNet, cfg: TrainingSettings) -> Any:
    from peft import LoraConfig, get_peft_model

    conf = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=LORA_TARGETS,
        modules_to_save=["classifier"],
    )
    return get_peft_model(net, conf)


@torch.no_grad()
def predict_proba(
    net: Any, windows: WindowArrays, vocab: Vocabulary, device: torch.device, batch: int = 256
) -> np.ndarray:
    net.eval()
    base = net.get_base_model() if hasattr(net, "get_base_model") else net
    out = []
    for start in range(0, windows.n, batch):
        part = windows.take(np.arange(start, min(start + batch, windows.n)))
        feats, mask = to_tensors(part, vocab, device)
        out.append(torch.sigmoid(base.fraud_logits(feats, mask).float()).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def pos_weight_for(labels: np.ndarray, cfg: TrainingSettings) -> float:
    pos = float(labels.sum())
    neg = float(labels.size - pos)
    if not cfg.class_weighting or pos == 0:
        return 1.0
    return float(min(cfg.max_pos_weight, max(1.0, neg / pos)))


def finetune(
    net: BehaviorNet,
    batches: Iterator[WindowArrays],
    val: WindowArrays,
    vocab: Vocabulary,
    cfg: TrainingSettings,
    device: torch.device,
    pos_weight: float,
    attacks: WindowArrays | None = None,
    log_metrics: MetricLogger | None = None,
    progress: bool = True,
) -> tuple[Any, PhaseResult]:
    """Fine-tune (``cfg.finetune_mode`` full or lora); returns the trained net and the story."""
    res = PhaseResult()
    model: Any = with_lora(net, cfg) if cfg.finetune_mode == "lora" else net
    model.to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.finetune_lr, weight_decay=0.01)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pos_weight, device=device))
    base = model.get_base_model() if cfg.finetune_mode == "lora" else model
    y_val = labels_of(val)
    rng = np.random.default_rng(cfg.seed + seed_offset())
    amp = autocast_dtype(device)
    dt_size = net.config.vocab_sizes.get("dt_buckets", 2)
    best_state, bad = None, 0
    t0 = time.monotonic()
    bar = tqdm(total=cfg.max_finetune_steps, desc="fine-tune", disable=not progress, leave=False)
    for step, batch in enumerate(batches, start=1):
        y = labels_of(batch)
        batch, y = augment(batch, y, cfg, attacks, rng, dt_size)
        feats, mask = to_tensors(batch, vocab, device)
        target = torch.as_tensor(y, dtype=torch.float32, device=device)
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            logits = base.fraud_logits(feats, mask)
        loss = loss_fn(logits.float(), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        sync_gradients(params)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        bar.update(1)
        res.steps = step
        done = step >= cfg.max_finetune_steps
        timeout = any_rank(time.monotonic() - t0 > cfg.max_minutes * 60, device)
        if step % cfg.eval_every == 0 or done or timeout:
            p = predict_proba(model, val, vocab, device)
            ap = float(average_precision_score(y_val, p)) if 0 < y_val.sum() < y_val.size else 0.0
            m = {"val_pr_auc": ap, "train_loss": float(loss.detach()), "step": step}
            res.history.append(m)
            bar.set_postfix(val_pr_auc=f"{ap:.3f}")
            if log_metrics:
                log_metrics(
                    {"finetune_val_pr_auc": ap, "finetune_train_loss": float(loss.detach())}, step
                )
            if best_state is None or ap > res.best + cfg.min_delta:
                res.best, res.best_step, bad = ap, step, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                bad += 1
            model.train()
            if any_rank(bad >= cfg.patience, device):
                res.stopped_because = f"no validation PR-AUC gain for {bad} evaluations"
                break
        if done:
            res.stopped_because = "max_finetune_steps"
            break
        if timeout:
            res.stopped_because = "max_minutes"
            break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    res.seconds = time.monotonic() - t0
    log.info("fine-tuning (%s): %s", cfg.finetune_mode, res.as_dict())
    model.eval()
    return model, res
