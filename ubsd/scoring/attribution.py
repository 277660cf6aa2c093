"""Which events drove a window's score: attributions over the summed event embeddings (captum).

Each event enters the encoder as one vector, the sum of its field embeddings; attributing the
score to that vector gives one number per event (summed over hidden dimensions). Two methods:

* ``grad_x_input`` (default): gradient x input, one forward and one backward pass per batch,
  cost about 3x scoring per explained window, bounded and predictable;
* ``integrated_gradients``: integrated gradients from an all-zero embedding (no event content,
  positions kept) with ``explain_steps`` steps; about ``steps`` x the cost of gradient x input,
  satisfies completeness (attributions sum to the score change), useful when a few events
  saturate the classifier and plain gradients go flat.

The attributed output is the fraud logit for models with a classifier. A model without one
alerts on the zero-label score, the standardised two-sided mean masked-event surprise; that
score is already a sum over events, so each event's share of it is its contribution
(``sign(mean - center) * (nll_i - center) / (scale * n)``, which sums to the score exactly) and
no gradients are needed. Attention rollout was not used: it explains where the encoder looks,
not what raised this head's score, and it ignores the heads after the encoder.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ubsd.model.artifact import BehaviorModel


def _score_from_embeddings(model: BehaviorModel) -> Any:
    net = model.net

    def forward(emb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        hidden = net.encoder(inputs_embeds=emb, attention_mask=mask.long()).last_hidden_state
        return net.classifier(hidden, mask)

    return forward


@torch.no_grad()
def surprise_shares(
    model: BehaviorModel, feats: dict[str, torch.Tensor], mask: torch.Tensor
) -> torch.Tensor:
    """Each event's exact share of the zero-label score (models without a classifier)."""
    net = model.net
    nll = net.event_surprise(feats, mask)
    n = mask.sum(1, keepdim=True).clamp(min=1)
    mean = nll.sum(1, keepdim=True) / n
    sign = torch.sign(mean - net.zl_center)
    return sign * (nll - net.zl_center) * mask / (net.zl_scale * n)


def event_attributions(
    model: BehaviorModel,
    features: dict[str, np.ndarray],
    method: str = "grad_x_input",
    steps: int = 8,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """(n, L) contribution of each event to its window's score (0 for padding)."""
    from captum.attr import InputXGradient, IntegratedGradients

    net = model.net
    net.eval()
    forward = _score_from_embeddings(model)
    explainer: Any = (
        IntegratedGradients(forward)
        if method == "integrated_gradients"
        else InputXGradient(forward)
    )
    n = int(np.asarray(features["mask"]).shape[0])
    out = []
    dev = torch.device(device)
    # cuDNN RNN backward refuses eval mode (GRU head): explain without cuDNN.
    with torch.backends.cudnn.flags(enabled=False):
        for start in range(0, n, batch_size):
            part = {k: np.asarray(v)[start : start + batch_size] for k, v in features.items()}
            feats, mask = model.tensors(part, dev)
            if not model.has_classifier:
                out.append(surprise_shares(model, feats, mask).float().cpu().numpy())
                continue
            with torch.no_grad():
                emb = net.embed(feats).float()
            emb.requires_grad_(True)
            if method == "integrated_gradients":
                attr = explainer.attribute(
                    emb,
                    baselines=torch.zeros_like(emb),
                    additional_forward_args=(mask,),
                    n_steps=steps,
                    internal_batch_size=max(1, batch_size),
                )
            else:
                attr = explainer.attribute(emb, additional_forward_args=(mask,))
            out.append((attr.detach().sum(-1) * mask).float().cpu().numpy())
    if not out:
        return np.zeros((0, model.spec.window_length), dtype=np.float32)
    return np.concatenate(out).astype(np.float32)


def top_events(contrib: np.ndarray, mask: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
    """Per window, the k real events with the largest contribution (ties: earlier event first).

    >>> top_events(np.array([[0.1, 0.9, 0.5, 0.7]]), np.array([[1, 1, 1, 0]]), 2)
    [[(1, 0.9), (2, 0.5)]]
    """
    res = []
    for c, m in zip(contrib, mask, strict=True):
        idx = np.flatnonzero(m)
        order = idx[np.lexsort((idx, -c[idx]))][:k]
        res.append([(int(i), float(c[i])) for i in order])
    return res
