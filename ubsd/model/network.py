"""The behavior-sequence transformer: event embeddings -> BERT encoder -> heads.

Each event is the sum of one embedding per feature (event type, time-delta bucket, item and
category buckets, position, sponsored, price bucket, hour, change flags); BERT adds positions.
Three kinds of head share the encoder:

* masked-event heads predict masked events' fields (self-supervised pretraining; per-event
  surprise for explanations);
* a fraud classifier, ``mlp`` (masked-mean pooling + MLP) or ``gru`` (a GRU over the encoder
  outputs), fine-tuned on labels.

The **zero-label score** is two-sided masked-event surprise. Each event is hidden once (over
``zero_label_passes`` interleaved maskings) and the masked-event heads give the negative
log-likelihood of its fields; a window's surprise is the mean over its events. Humans sit in a
typical band; sequences the model finds far more surprising than training traffic are unusual,
and sequences it finds far *less* surprising are unnaturally regular: a click bot repeats one
event, the encoder copies it from context, and its surprise collapses. The score is the distance
from the training median in robust standard deviations (both tails). One-sided surprise
(LogBERT's reading) ranks such bots as the most normal windows of all (see docs/model.md).

Built from a config in code (never downloaded); ``save_pretrained`` writes safetensors.

>>> import torch
>>> cfg = BehaviorConfig.for_size("tiny", window_length=8, vocab_sizes={"event_type_ids": 10,
...     "dt_buckets": 32, "item_buckets": 64})
>>> net = BehaviorNet(cfg).eval()
>>> feats = {k: torch.randint(2, 10, (3, 8)) for k in cfg.vocab_sizes}
>>> mask = torch.ones(3, 8, dtype=torch.long)
>>> net.fraud_logits(feats, mask).shape, net.zero_label_scores(feats, mask).shape
(torch.Size([3]), torch.Size([3]))
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from transformers import BertConfig, BertModel, PretrainedConfig, PreTrainedModel

from ubsd.model.sizes import SIZES

#: Fields the masked-event heads predict (the issue's minimum: type, time delta, item).
MLM_FIELDS: tuple[str, ...] = ("event_type_ids", "dt_buckets", "item_buckets")


class BehaviorConfig(PretrainedConfig):
    model_type = "ubsd-behavior"

    def __init__(
        self,
        vocab_sizes: dict[str, int] | None = None,
        window_length: int = 64,
        hidden_size: int = 256,
        num_hidden_layers: int = 4,
        num_attention_heads: int = 4,
        intermediate_size: int = 1024,
        dropout: float = 0.1,
        head: str = "mlp",
        mlm_fields: tuple[str, ...] | list[str] = MLM_FIELDS,
        zero_label_passes: int = 2,
        size_name: str = "custom",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.vocab_sizes = dict(vocab_sizes or {})
        self.window_length = window_length
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.dropout = dropout
        self.head = head
        self.mlm_fields = [f for f in mlm_fields if f in self.vocab_sizes]
        self.zero_label_passes = zero_label_passes
        self.size_name = size_name

    @classmethod
    def for_size(
        cls, size: str, window_length: int, vocab_sizes: dict[str, int], **kwargs: Any
    ) -> BehaviorConfig:
        if size not in SIZES:
            raise ValueError(f"unknown model size {size!r}; choose one of {sorted(SIZES)}")
        s = SIZES[size]
        return cls(
            vocab_sizes=vocab_sizes,
            window_length=window_length,
            hidden_size=s.hidden_size,
            num_hidden_layers=s.num_hidden_layers,
            num_attention_heads=s.num_attention_heads,
            intermediate_size=s.intermediate_size,
            size_name=size,
            **kwargs,
        )

    def bert_config(self) -> BertConfig:
        return BertConfig(
            vocab_size=4,  # unused: events arrive as summed field embeddings
            hidden_size=self.hidden_size,
            num_hidden_layers=self.num_hidden_layers,
            num_attention_heads=self.num_attention_heads,
            intermediate_size=self.intermediate_size,
            max_position_embeddings=self.window_length,
            hidden_dropout_prob=self.dropout,
            attention_probs_dropout_prob=self.dropout,
            type_vocab_size=1,
        )


class EventEmbedding(nn.Module):
    """Sum of one embedding per feature; a learned vector stands in for masked events."""

    def __init__(self, vocab_sizes: dict[str, int], hidden: int) -> None:
        super().__init__()
        self.names = sorted(vocab_sizes)
        self.tables = nn.ModuleDict(
            {n: nn.Embedding(vocab_sizes[n], hidden, padding_idx=0) for n in self.names}
        )
        self.mask_vector = nn.Parameter(torch.zeros(hidden))

    def forward(
        self, features: dict[str, torch.Tensor], hide: torch.Tensor | None = None
    ) -> torch.Tensor:
        x = sum(self.tables[n](features[n].long()) for n in self.names)
        if hide is not None:
            x = torch.where(hide.unsqueeze(-1), self.mask_vector.to(x.dtype), x)
        return x


class MLPHead(nn.Module):
    def __init__(self, hidden: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(hidden, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, 1)
        )

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.unsqueeze(-1).to(h.dtype)
        pooled = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
        return self.net(pooled).squeeze(-1)


class GRUHead(nn.Module):
    def __init__(self, hidden: int, dropout: float) -> None:
        super().__init__()
        self.gru = nn.GRU(hidden, hidden // 2, batch_first=True, bidirectional=True)
        self.out = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, 1))

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        lengths = mask.sum(1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(
            h, lengths, batch_first=True, enforce_sorted=False
        )
        _, last = self.gru(packed)  # (2, B, hidden/2): forward and backward final states
        return self.out(torch.cat([last[0], last[1]], dim=-1)).squeeze(-1)


class BehaviorNet(PreTrainedModel):
    config_class = BehaviorConfig
    base_model_prefix = "encoder"

    def __init__(self, config: BehaviorConfig) -> None:
        super().__init__(config)
        self.embed = EventEmbedding(config.vocab_sizes, config.hidden_size)
        self.encoder = BertModel(config.bert_config(), add_pooling_layer=False)
        self.mlm = nn.ModuleDict(
            {f: nn.Linear(config.hidden_size, config.vocab_sizes[f]) for f in config.mlm_fields}
        )
        head = {"mlp": MLPHead, "gru": GRUHead}.get(config.head)
        if head is None:
            raise ValueError(f"unknown head {config.head!r}; choose 'mlp' or 'gru'")
        self.classifier = head(config.hidden_size, config.dropout)
        # Training surprise distribution (median, robust scale), fitted after training.
        self.register_buffer("zl_center", torch.zeros(()))
        self.register_buffer("zl_scale", torch.ones(()))
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)
            if module.padding_idx is not None:
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def encode(
        self,
        features: dict[str, torch.Tensor],
        mask: torch.Tensor,
        hide: torch.Tensor | None = None,
    ) -> torch.Tensor:
        x = self.embed(features, hide)
        out = self.encoder(inputs_embeds=x, attention_mask=mask.long())
        return out.last_hidden_state

    def mlm_logits(self, hidden: torch.Tensor) -> dict[str, torch.Tensor]:
        return {f: head(hidden) for f, head in self.mlm.items()}

    def fraud_logits(self, features: dict[str, torch.Tensor], mask: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.encode(features, mask), mask)

    @staticmethod
    def pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)

    def score_both(
        self, features: dict[str, torch.Tensor], mask: torch.Tensor, passes: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Fraud logits and zero-label scores from one batched forward (1 + passes copies)."""
        k = passes or self.config.zero_label_passes
        b = mask.shape[0]
        both = {n: t.repeat(k + 1, 1) for n, t in features.items()}
        hide = torch.cat([torch.zeros_like(mask, dtype=torch.bool), self._hide_plan(mask, k)])
        hidden = self.encode(both, mask.repeat(k + 1, 1), hide)
        logits = self.classifier(hidden[:b], mask)
        nll = self._masked_nll(hidden[b:], {n: t[b:] for n, t in both.items()}, hide[b:], k, mask)
        return logits, self._standardize(nll, mask)

    @staticmethod
    def _hide_plan(mask: torch.Tensor, k: int) -> torch.Tensor:
        """k stacked copies of the batch; copy j hides events i with i mod k == j."""
        b, length = mask.shape
        pos = torch.arange(length, device=mask.device)
        hide = pos.unsqueeze(0) % k == torch.arange(k, device=mask.device).unsqueeze(1)
        return hide.unsqueeze(1).expand(k, b, length).reshape(k * b, length) & mask.bool().repeat(
            k, 1
        )

    def _masked_nll(
        self,
        hidden: torch.Tensor,
        feats: dict[str, torch.Tensor],
        hide: torch.Tensor,
        k: int,
        mask: torch.Tensor,
    ) -> torch.Tensor:
        # Each valid event is hidden in exactly one copy: score only those rows.
        h = hidden[hide]
        nll_sel = torch.zeros(h.shape[0], device=mask.device, dtype=torch.float32)
        for f, logits in self.mlm_logits(h).items():
            logp = torch.log_softmax(logits.float(), dim=-1)
            nll_sel = nll_sel - logp.gather(-1, feats[f][hide].long().unsqueeze(-1)).squeeze(-1)
        nll = torch.zeros(hide.shape, device=mask.device, dtype=torch.float32)
        nll[hide] = nll_sel
        return nll.reshape(k, mask.shape[0], mask.shape[1]).sum(0) * mask

    def event_surprise(
        self, features: dict[str, torch.Tensor], mask: torch.Tensor, passes: int | None = None
    ) -> torch.Tensor:
        """Per-event negative log-likelihood of its fields, each event masked exactly once."""
        k = passes or self.config.zero_label_passes
        hide = self._hide_plan(mask, k)
        feats = {n: t.repeat(k, 1) for n, t in features.items()}
        hidden = self.encode(feats, mask.repeat(k, 1), hide)
        return self._masked_nll(hidden, feats, hide, k, mask)

    def mean_surprise(
        self, features: dict[str, torch.Tensor], mask: torch.Tensor, passes: int | None = None
    ) -> torch.Tensor:
        nll = self.event_surprise(features, mask, passes)
        return nll.sum(1) / mask.sum(1).clamp(min=1)

    def _standardize(self, nll: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        mean = nll.sum(1) / mask.sum(1).clamp(min=1)
        return (mean - self.zl_center).abs() / self.zl_scale

    def zero_label_scores(
        self, features: dict[str, torch.Tensor], mask: torch.Tensor, passes: int | None = None
    ) -> torch.Tensor:
        """Two-sided surprise in robust standard deviations (higher = more anomalous)."""
        return (self.mean_surprise(features, mask, passes) - self.zl_center).abs() / self.zl_scale

    @torch.no_grad()
    def fit_zero_label(self, surprise: torch.Tensor) -> None:
        """Median and robust scale (IQR / 1.349) of training windows' mean surprise.

        Robust statistics, because unlabelled training traffic contains fraud.
        """
        x = surprise.float().cpu().numpy()
        q25, q50, q75 = np.percentile(x, [25, 50, 75])
        self.zl_center.fill_(float(q50))
        self.zl_scale.fill_(max(float(q75 - q25) / 1.349, 1e-6))
