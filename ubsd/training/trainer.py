"""Train a behavior model end to end: vocabulary, pretraining, fine-tuning, thresholds.

Training data comes as a :class:`TrainSource`: windows in memory, or the parquet files of the
table's snapshot streamed through a bounded shuffle buffer (tables larger than RAM). Validation
windows are a fixed, capped in-memory sample.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ubsd.config import Settings
from ubsd.detectors.threshold import choose_threshold
from ubsd.io.schemas import WINDOW_FEATURE_ARRAYS
from ubsd.io.window_arrays import WindowArrays, iter_window_batches
from ubsd.model.artifact import BehaviorModel
from ubsd.model.network import BehaviorConfig, BehaviorNet
from ubsd.model.vocab import Vocabulary
from ubsd.sessionize.spec import FeatureSpec
from ubsd.training.batches import in_memory_batches, streamed_batches
from ubsd.training.device import pick_device, seed_offset
from ubsd.training.finetune import finetune, pos_weight_for, predict_proba
from ubsd.training.pretrain import MetricLogger, PhaseResult, pretrain
from ubsd.training.tensors import to_tensors

log = logging.getLogger("ubsd.training")
Keep = Callable[[WindowArrays], np.ndarray]


def _both(a: Keep | None, b: Keep | None) -> Keep | None:
    if a is None or b is None:
        return a or b
    return lambda w: a(w) & b(w)


@dataclass
class TrainSource:
    """Training windows: in memory (``windows``) or streamed from parquet ``files``.

    ``keep`` selects the training side of a split per batch (user hash and date), so a split
    never needs the whole table in memory.
    """

    window_length: int
    windows: WindowArrays | None = None
    files: list[str] = field(default_factory=list)
    keep: Keep | None = None

    def iter_once(self, keep: Keep | None = None) -> Iterator[WindowArrays]:
        keep = _both(self.keep, keep)
        parts = (
            [self.windows]
            if self.windows is not None
            else iter_window_batches(self.files, self.window_length)
        )
        for part in parts:
            yield part if keep is None else part.take(keep(part))

    def batches(
        self, batch_size: int, rng: np.random.Generator, keep: Keep | None = None
    ) -> Iterator[WindowArrays]:
        keep = _both(self.keep, keep)
        if self.windows is not None:
            w = self.windows if keep is None else self.windows.take(keep(self.windows))
            return in_memory_batches(w, batch_size, rng)
        return streamed_batches(self.files, self.window_length, batch_size, rng, keep=keep)


@dataclass
class LabelStats:
    n: int
    positives: int
    attacks: WindowArrays | None  # reservoir of labelled attacks for injection


def label_stats(source: TrainSource, keep: Keep | None, rng: np.random.Generator) -> LabelStats:
    n = pos = 0
    pool: list[WindowArrays] = []
    for part in source.iter_once(keep):
        lab = part.labels
        if lab is None:
            raise ValueError("fine-tuning needs labels: the training windows have none")
        n += part.n
        pos += int(lab.sum())
        if lab.sum():
            pool.append(part.take(lab == 1))
    attacks = WindowArrays.concat(pool) if pool else None
    if attacks is not None and attacks.n > 5000:
        attacks = attacks.take(rng.choice(attacks.n, 5000, replace=False))
    return LabelStats(n=n, positives=pos, attacks=attacks)


@dataclass
class TrainResult:
    model: BehaviorModel
    pretrain: PhaseResult
    finetune: PhaseResult | None
    facts: dict[str, Any]


def build_vocab(source: TrainSource, spec: FeatureSpec) -> Vocabulary:
    return Vocabulary.build(
        ({k: p.features[k] for k in WINDOW_FEATURE_ARRAYS} for p in source.iter_once()),
        spec.vocab_sizes,
    )


def new_network(settings: Settings, spec: FeatureSpec) -> BehaviorNet:
    torch.manual_seed(settings.training.seed)
    cfg = BehaviorConfig.for_size(
        settings.model.size,
        window_length=spec.window_length,
        vocab_sizes=spec.vocab_sizes,
        head=settings.model.head,
        dropout=settings.model.dropout,
        zero_label_passes=settings.model.zero_label_passes,
    )
    return BehaviorNet(cfg)


def pretrained_encoder(
    source: TrainSource,
    val: WindowArrays,
    settings: Settings,
    spec: FeatureSpec,
    log_metrics: MetricLogger | None = None,
    progress: bool = True,
) -> tuple[BehaviorNet, Vocabulary, PhaseResult]:
    """Vocabulary + masked-event pretraining on (unlabelled) training windows."""
    cfg = settings.training
    device = pick_device(cfg.device)
    vocab = build_vocab(source, spec)
    net = new_network(settings, spec)
    rng = np.random.default_rng(cfg.seed + seed_offset())
    res = pretrain(
        net, source.batches(cfg.batch_size, rng), val, vocab, cfg, device, log_metrics, progress
    )
    fit_zero_label(net, source, vocab, device)
    return net, vocab, res


@torch.no_grad()
def fit_zero_label(
    net: Any, source: TrainSource, vocab: Vocabulary, device: torch.device, cap: int = 20_000
) -> None:
    """Fit the zero-label reference on (up to ``cap``) training windows, unlabelled: training
    traffic as it is, fraud included, as in production."""
    base = net.get_base_model() if hasattr(net, "get_base_model") else net
    base.eval()
    values, seen = [], 0
    for part in source.iter_once():
        for start in range(0, part.n, 256):
            chunk = part.take(np.arange(start, min(start + 256, part.n)))
            feats, mask = to_tensors(chunk, vocab, device)
            values.append(base.mean_surprise(feats, mask).float().cpu())
            seen += chunk.n
            if seen >= cap:
                break
        if seen >= cap:
            break
    base.fit_zero_label(torch.cat(values))


def train_model(
    source: TrainSource,
    val: WindowArrays,
    settings: Settings,
    spec: FeatureSpec,
    log_metrics: MetricLogger | None = None,
    progress: bool = True,
    pretrained: tuple[BehaviorNet, Vocabulary, PhaseResult] | None = None,
    keep_labelled: Keep | None = None,
) -> TrainResult:
    """Pretrain (or reuse ``pretrained``), then fine-tune unless ``finetune_mode`` is none.

    ``keep_labelled`` filters the labelled fine-tuning windows (leave-one-type-out); the
    unlabelled pretraining traffic is never filtered, as in production.
    """
    import copy

    cfg = settings.training
    device = pick_device(cfg.device)
    if pretrained is None:
        pretrained = pretrained_encoder(source, val, settings, spec, log_metrics, progress)
    base, vocab, pre = pretrained
    net = copy.deepcopy(base).to(device)
    if cfg.finetune_mode != "none" and net.config.head != settings.model.head:
        raise ValueError("pretrained encoder was built for another head")
    ft: PhaseResult | None = None
    threshold = None
    rng = np.random.default_rng(cfg.seed + 7 + seed_offset())
    facts: dict[str, Any] = {"device": str(device), "val_windows": val.n}
    trained: Any = net
    if cfg.finetune_mode != "none":
        stats = label_stats(source, keep_labelled, rng)
        if stats.positives == 0:
            raise ValueError("no positive (fraud) windows in the labelled training data")
        pw = pos_weight_for(
            np.r_[np.ones(stats.positives), np.zeros(stats.n - stats.positives)], cfg
        )
        facts.update(train_windows=stats.n, train_positives=stats.positives, pos_weight=pw)
        trained, ft = finetune(
            net,
            source.batches(cfg.batch_size, rng, keep_labelled),
            val,
            vocab,
            cfg,
            device,
            pw,
            stats.attacks,
            log_metrics,
            progress,
        )
        fit_zero_label(trained, source, vocab, device)
        y_val = val.labels
        p_val = predict_proba(trained, val, vocab, device)
        threshold = choose_threshold(p_val, y_val, target_precision=cfg.target_precision)
    model = BehaviorModel(
        net=trained,
        spec=spec,
        vocab=vocab,
        threshold=threshold,
        has_classifier=cfg.finetune_mode != "none",
        mode={"none": "pretrained"}.get(cfg.finetune_mode, cfg.finetune_mode),
        info={
            "trained_id": uuid.uuid4().hex,
            "size": settings.model.size,
            "head": settings.model.head,
            "pretrain": pre.as_dict(),
            "finetune": ft.as_dict() if ft else None,
            **facts,
        },
    )
    _, zl = model.score_arrays(val.features, device=device)
    model.zero_label_threshold = choose_threshold(zl, None, alert_rate=cfg.alert_rate)
    model.info["reference"] = reference_distribution(model, val, device)
    return TrainResult(model=model, pretrain=pre, finetune=ft, facts=facts)


def reference_distribution(
    model: BehaviorModel, val: WindowArrays, device: torch.device
) -> dict[str, list[float]]:
    """Validation score quantiles, stored with the model for drift monitoring (PSI)."""
    prob, zl = model.score_arrays(val.features, device=device)
    qs = np.linspace(0, 1, 21)
    out = {"zero_label_quantiles": np.quantile(zl, qs).round(6).tolist()}
    if prob is not None:
        out["probability_quantiles"] = np.quantile(prob, qs).round(6).tolist()
        out["flagged_rate"] = float((prob >= (model.threshold or 1.0)).mean())
    return out
