"""DeepLog-style next-event model: an LSTM learns what usually comes next; surprise = anomaly.

After Du et al., "DeepLog" (CCS 2017): an LSTM over the sequence of log keys (here: event type,
plus the time-delta bucket as in DeepLog's parameter model) predicts the next key. Trained on
unlabeled training windows (labels are ignored; fraud is a few percent of the traffic, as in
production). Score per window, over its events (a start token predicts the first):

* ``"nll"`` (default): mean negative log-likelihood of the true next event type and dt bucket;
* ``"topg"``: DeepLog's rule, the share of events whose type is not among the ``g`` most likely.

Training stops when the validation NLL has not improved for ``patience`` epochs, or at
``max_epochs`` / ``max_seconds``, whichever comes first (validation windows' labels unused).
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from ubsd.detectors.base import Detector
from ubsd.io.window_arrays import WindowArrays


class _NextEventLSTM(nn.Module):
    def __init__(self, n_types: int, n_dt: int, emb: int, hidden: int) -> None:
        super().__init__()
        # Index n is the start token for both inputs.
        self.type_emb = nn.Embedding(n_types + 1, emb)
        self.dt_emb = nn.Embedding(n_dt + 1, emb)
        self.lstm = nn.LSTM(2 * emb, hidden, batch_first=True)
        self.type_head = nn.Linear(hidden, n_types)
        self.dt_head = nn.Linear(hidden, n_dt)

    def forward(self, types: torch.Tensor, dts: torch.Tensor):
        h, _ = self.lstm(torch.cat([self.type_emb(types), self.dt_emb(dts)], dim=-1))
        return self.type_head(h), self.dt_head(h)


class DeepLogDetector(Detector):
    name = "deeplog"
    supervised = False

    def __init__(
        self,
        score_kind: str = "nll",
        top_g: int = 3,
        emb: int = 16,
        hidden: int = 64,
        batch_size: int = 256,
        lr: float = 3e-3,
        max_epochs: int = 8,
        patience: int = 2,
        max_seconds: float = 300.0,
        seed: int = 0,
    ) -> None:
        if score_kind not in ("nll", "topg"):
            raise ValueError("score_kind must be 'nll' or 'topg'")
        self.score_kind, self.top_g = score_kind, top_g
        self.emb, self.hidden = emb, hidden
        self.batch_size, self.lr = batch_size, lr
        self.max_epochs, self.patience, self.max_seconds = max_epochs, patience, max_seconds
        self.seed = seed
        self.net: _NextEventLSTM | None = None
        self.n_types = self.n_dt = 0
        self.history_: list[dict[str, float]] = []

    # -- data ---------------------------------------------------------------------------------
    def _tensors(self, w: WindowArrays) -> tuple[torch.Tensor, ...]:
        """Inputs shifted right behind a start token, targets, and the event mask."""
        mask = w.mask.astype(bool)
        et = np.where(mask, w.features["event_type_ids"], 0)
        dtb = np.where(mask, w.features.get("dt_buckets", mask.astype(np.int32)), 0)
        et = np.where(et >= self.n_types, 1, et).astype(np.int64)  # unseen -> unknown
        dtb = np.where(dtb >= self.n_dt, self.n_dt - 1, dtb).astype(np.int64)
        n = et.shape[0]
        in_t = np.concatenate([np.full((n, 1), self.n_types), et[:, :-1]], axis=1)
        in_d = np.concatenate([np.full((n, 1), self.n_dt), dtb[:, :-1]], axis=1)
        return (
            torch.from_numpy(in_t),
            torch.from_numpy(in_d),
            torch.from_numpy(et),
            torch.from_numpy(dtb),
            torch.from_numpy(mask),
        )

    def _per_event_nll(self, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        in_t, in_d, y_t, y_d, m = batch
        lt, ld = self.net(in_t, in_d)
        ce = nn.functional.cross_entropy
        nll = ce(lt.transpose(1, 2), y_t, reduction="none") + ce(
            ld.transpose(1, 2), y_d, reduction="none"
        )
        return nll * m, lt

    # -- contract -------------------------------------------------------------------------------
    def fit(self, windows, labels=None, validation=None) -> DeepLogDetector:
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        self.n_types = max(10, int(windows.features["event_type_ids"].max()) + 1)
        dtb = windows.features.get("dt_buckets")
        self.n_dt = max(3, int(dtb.max()) + 1 if dtb is not None else 2)
        self.net = _NextEventLSTM(self.n_types, self.n_dt, self.emb, self.hidden)
        opt = torch.optim.Adam(self.net.parameters(), lr=self.lr)
        data = self._tensors(windows)
        val = self._tensors(validation[0]) if validation is not None else None
        best, best_state, bad = np.inf, None, 0
        t0 = time.monotonic()
        self.history_ = []
        lengths = windows.lengths()
        for epoch in range(self.max_epochs):
            self.net.train()
            total, count = 0.0, 0.0
            for idx in _length_batches(lengths, self.batch_size, rng):
                nll, _ = self._per_event_nll(_cut(data, idx, lengths))
                events = data[4][idx].sum()
                loss = nll.sum() / events.clamp(min=1)
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(self.net.parameters(), 1.0)
                opt.step()
                total += float(nll.detach().sum())
                count += float(events)
                if time.monotonic() - t0 > self.max_seconds:
                    break
            record = {"epoch": epoch + 1, "train_nll": total / max(count, 1.0)}
            if val is not None:
                record["val_nll"] = self._mean_nll(val)
                if record["val_nll"] < best - 1e-4:
                    best, bad = record["val_nll"], 0
                    best_state = {k: v.clone() for k, v in self.net.state_dict().items()}
                else:
                    bad += 1
            self.history_.append(record)
            if bad >= self.patience or time.monotonic() - t0 > self.max_seconds:
                break
        if best_state is not None:
            self.net.load_state_dict(best_state)
        self.net.eval()
        return self

    @torch.no_grad()
    def _mean_nll(self, data: tuple[torch.Tensor, ...]) -> float:
        self.net.eval()
        total, count = 0.0, 0.0
        lengths = data[4].sum(1).numpy()
        for idx in _length_batches(lengths, 2048, None):
            nll, _ = self._per_event_nll(_cut(data, idx, lengths))
            total += float(nll.sum())
            count += float(lengths[idx].sum())
        return total / max(count, 1.0)

    @torch.no_grad()
    def score(self, windows: WindowArrays) -> np.ndarray:
        if self.net is None:
            raise RuntimeError("deeplog: call fit() first")
        self.net.eval()
        data = self._tensors(windows)
        lengths = windows.lengths()
        out = np.zeros(windows.n, dtype=np.float64)
        for idx in _length_batches(lengths, 2048, None):
            batch = _cut(data, idx, lengths)
            m = batch[4].float()
            nll, logits = self._per_event_nll(batch)
            if self.score_kind == "nll":
                per = nll.sum(1)
            else:
                top = logits.topk(min(self.top_g, logits.shape[-1]), dim=-1).indices
                miss = ~(top == batch[2].unsqueeze(-1)).any(-1)
                per = (miss.float() * m).sum(1)
            out[idx] = (per / m.sum(1).clamp(min=1)).numpy()
        return out

    def describe(self) -> dict:
        return {**super().describe(), "score_kind": self.score_kind, "epochs": self.history_}


def _length_batches(
    lengths: np.ndarray, size: int, rng: np.random.Generator | None
) -> list[np.ndarray]:
    """Batches of windows of similar length (shuffled when ``rng``): padding is cut per batch,
    which makes an epoch several times cheaper when most windows are short."""
    jitter = rng.random(lengths.size) if rng is not None else np.zeros(lengths.size)
    order = np.argsort(lengths + jitter, kind="stable")
    batches = [order[i : i + size] for i in range(0, order.size, size)]
    if rng is not None:
        rng.shuffle(batches)
    return batches


def _cut(data: tuple[torch.Tensor, ...], idx: np.ndarray, lengths: np.ndarray):
    """The batch's rows, truncated to its longest window."""
    width = max(1, int(lengths[idx].max()))
    rows = torch.from_numpy(np.asarray(idx))
    return tuple(t[rows, :width] for t in data)
