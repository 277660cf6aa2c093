"""WindowArrays -> model tensors, through the model's vocabulary."""

from __future__ import annotations

import numpy as np
import torch

from ubsd.io.schemas import WINDOW_FEATURE_ARRAYS
from ubsd.io.window_arrays import WindowArrays
from ubsd.model.vocab import Vocabulary


def to_tensors(
    windows: WindowArrays, vocab: Vocabulary, device: torch.device
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    mapped = vocab.apply({k: windows.features[k] for k in WINDOW_FEATURE_ARRAYS})
    feats = {k: torch.as_tensor(v, dtype=torch.long, device=device) for k, v in mapped.items()}
    mask = torch.as_tensor(windows.mask, dtype=torch.long, device=device)
    return feats, mask


def random_hide(mask: torch.Tensor, prob: float, generator: torch.Generator) -> torch.Tensor:
    """Pick events to mask: each valid event with ``prob``, at least one per non-empty window."""
    valid = mask.bool()
    draw = torch.rand(mask.shape, generator=generator, device="cpu").to(mask.device)
    hide = (draw < prob) & valid
    # Windows where nothing was drawn: hide their highest-draw valid event.
    none = ~hide.any(1) & valid.any(1)
    if none.any():
        pick = torch.where(valid, draw, torch.full_like(draw, -1.0)).argmax(1)
        hide[none, pick[none]] = True
    return hide


def labels_of(windows: WindowArrays) -> np.ndarray:
    lab = windows.labels
    if lab is None:
        raise ValueError("fine-tuning needs labelled windows (the windows table has no labels)")
    return lab
