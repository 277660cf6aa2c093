"""Model sizes: ``tiny`` for CI, ``small`` the default, ``base`` for a GPU.

On this project's 2-core CPU, full 64-event windows, probability and zero-label score in one
forward: ``small`` (4 x 256) scores about 40 windows/s, ``tiny`` (2 x 64) about 700 (3,000 for the
probability alone); see benchmarks/results/scoring.json. Pick sizes by where training runs.

>>> SIZES["small"].hidden_size, SIZES["small"].num_hidden_layers
(256, 4)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Size:
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int


SIZES: dict[str, Size] = {
    "tiny": Size(64, 2, 2, 128),
    "small": Size(256, 4, 4, 1024),
    "base": Size(512, 8, 8, 2048),
}
