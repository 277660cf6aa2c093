"""Vocabularies learned from training windows and versioned with the model.

The feature spec fixes each feature's id range; the vocabulary records which ids training
actually saw. At inference, ids training never saw map to the unknown id, so the model is never
asked about an embedding row it did not learn.

>>> import numpy as np
>>> v = Vocabulary.build([{"event_type_ids": np.array([[2, 3, 0]])}], {"event_type_ids": 10})
>>> v.apply({"event_type_ids": np.array([[2, 7, 0]])})["event_type_ids"].tolist()
[[2, 1, 0]]
>>> Vocabulary.from_json(v.to_json()).version == v.version
True
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

PAD_ID = 0
UNKNOWN_ID = 1


@dataclass(frozen=True)
class Vocabulary:
    """Per feature: the sorted ids seen in training (pad and unknown always included)."""

    seen: dict[str, tuple[int, ...]]
    sizes: dict[str, int]

    @classmethod
    def build(
        cls, batches: Iterable[Mapping[str, np.ndarray]], sizes: Mapping[str, int]
    ) -> Vocabulary:
        found = {name: np.zeros(size, dtype=bool) for name, size in sizes.items()}
        for batch in batches:
            for name, arr in batch.items():
                if name in found:
                    ids = np.unique(arr)
                    found[name][ids[(ids >= 0) & (ids < sizes[name])]] = True
        seen = {}
        for name, flags in found.items():
            flags[[PAD_ID, UNKNOWN_ID]] = True
            seen[name] = tuple(int(i) for i in np.flatnonzero(flags))
        return cls(seen=seen, sizes=dict(sizes))

    def lookup(self, name: str) -> np.ndarray:
        table = np.full(self.sizes[name], UNKNOWN_ID, dtype=np.int64)
        ids = np.asarray(self.seen[name], dtype=np.int64)
        table[ids] = ids
        return table

    def apply(self, features: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Map ids unseen in training (or out of range) to the unknown id."""
        out = {}
        for name, arr in features.items():
            if name not in self.seen:
                out[name] = arr
                continue
            a = np.asarray(arr, dtype=np.int64)
            inside = (a >= 0) & (a < self.sizes[name])
            out[name] = np.where(
                inside, self.lookup(name)[np.clip(a, 0, self.sizes[name] - 1)], UNKNOWN_ID
            )
        return out

    def to_json(self) -> str:
        return json.dumps({"seen": self.seen, "sizes": self.sizes}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Vocabulary:
        d = json.loads(text)
        return cls(seen={k: tuple(v) for k, v in d["seen"].items()}, sizes=d["sizes"])

    @property
    def version(self) -> str:
        return "v-" + hashlib.sha256(self.to_json().encode()).hexdigest()[:12]
