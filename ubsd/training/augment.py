"""Fine-tuning augmentations, each switchable in config and measured in the ablation.

All work on numpy windows before they become tensors:

* ``event_mask``: a share of events have every field set to the unknown id;
* ``crop``: a random contiguous span (at least half the window) is moved to the start;
* ``time_jitter``: a share of time-delta buckets move one bucket up or down;
* ``inject``: a share of normal windows get a span spliced in from a labelled training attack
  and become positive (so fine-tuning sees attacks in new contexts; a held-out type is never
  injected because it never reaches the labelled pool).

>>> import numpy as np
>>> from ubsd.io.window_arrays import WindowArrays
>>> w = WindowArrays.from_columns({"dt_buckets": [[2, 5, 6, 0]], "mask": [[1, 1, 1, 0]]}, 4)
>>> c = crop(w, np.random.default_rng(1))
>>> bool(int(c.mask.sum()) >= 2 and c.mask[0, 0] == 1)
True
"""

from __future__ import annotations

import numpy as np

from ubsd.config import TrainingSettings
from ubsd.io.window_arrays import WindowArrays
from ubsd.model.vocab import UNKNOWN_ID

_FIRST_REAL_BUCKET = 2


def _copy(w: WindowArrays) -> WindowArrays:
    return WindowArrays(
        features={k: v.copy() for k, v in w.features.items()},
        dt_seconds=None if w.dt_seconds is None else w.dt_seconds.copy(),
        meta={k: np.array(v, copy=True) for k, v in w.meta.items()},
    )


def event_mask(w: WindowArrays, share: float, rng: np.random.Generator) -> WindowArrays:
    out = _copy(w)
    hit = (rng.random(out.mask.shape) < share) & (out.mask == 1)
    for name, arr in out.features.items():
        if name != "mask":
            arr[hit] = UNKNOWN_ID
    return out


def crop(w: WindowArrays, rng: np.random.Generator) -> WindowArrays:
    out = _copy(w)
    lengths = out.lengths()
    for i, n in enumerate(lengths):
        if n < 4:
            continue
        keep = int(rng.integers(max(2, n // 2), n + 1))
        start = int(rng.integers(0, n - keep + 1))
        for arr in out.features.values():
            seg = arr[i, start : start + keep].copy()
            arr[i, :] = 0
            arr[i, :keep] = seg
    return out


def time_jitter(
    w: WindowArrays, share: float, rng: np.random.Generator, dt_size: int
) -> WindowArrays:
    out = _copy(w)
    dtb = out.features["dt_buckets"]
    hit = (rng.random(dtb.shape) < share) & (dtb >= _FIRST_REAL_BUCKET)
    step = rng.choice([-1, 1], size=dtb.shape)
    dtb[hit] = np.clip(dtb[hit] + step[hit], _FIRST_REAL_BUCKET, dt_size - 1)
    return out


def inject(
    w: WindowArrays,
    labels: np.ndarray,
    attacks: WindowArrays,
    share: float,
    rng: np.random.Generator,
) -> tuple[WindowArrays, np.ndarray]:
    """Splice attack spans into a share of negative windows; they become positive."""
    out, labels = _copy(w), labels.copy()
    if attacks.n == 0:
        return out, labels
    targets = np.flatnonzero((labels == 0) & (rng.random(labels.shape) < share))
    a_len = attacks.lengths()
    for i in targets:
        j = int(rng.integers(0, attacks.n))
        n_i, n_j = int(out.lengths()[i]), int(a_len[j])
        if n_i < 2 or n_j < 2:
            continue
        k = int(rng.integers(max(2, n_j // 4), max(3, n_j // 2) + 1))
        k = min(k, n_j, n_i)
        src = int(rng.integers(0, n_j - k + 1))
        dst = int(rng.integers(0, n_i - k + 1))
        for name, arr in out.features.items():
            arr[i, dst : dst + k] = attacks.features[name][j, src : src + k]
        labels[i] = 1
    return out, labels


def augment(
    w: WindowArrays,
    labels: np.ndarray,
    cfg: TrainingSettings,
    attacks: WindowArrays | None,
    rng: np.random.Generator,
    dt_size: int,
) -> tuple[WindowArrays, np.ndarray]:
    """Apply the augmentations switched on in ``cfg``, in a fixed order."""
    if cfg.aug_inject > 0 and attacks is not None:
        w, labels = inject(w, labels, attacks, cfg.aug_inject, rng)
    if cfg.aug_crop:
        w = crop(w, rng)
    if cfg.aug_time_jitter > 0:
        w = time_jitter(w, cfg.aug_time_jitter, rng, dt_size)
    if cfg.aug_event_mask > 0:
        w = event_mask(w, cfg.aug_event_mask, rng)
    return w, labels
