"""The feature spec: what each per-event integer means and how many values it can take.

Models are trained against one spec and refuse windows written with another: the windows table
carries ``feature_version``, a digest of everything below.

>>> from ubsd.config import SessionizeSettings
>>> spec = feature_spec(SessionizeSettings())
>>> spec.vocab_sizes["event_type_ids"], spec.vocab_sizes["hours"]
(10, 25)
>>> spec.version.startswith("fs1-")
True
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from ubsd.config import SessionizeSettings
from ubsd.io.schemas import KNOWN_EVENT_TYPES

#: Reserved ids in every integer feature: 0 = padding, 1 = missing/unknown/session start.
PAD_ID = 0
UNKNOWN_ID = 1
SPEC_GENERATION = "fs1"


@dataclass(frozen=True)
class FeatureSpec:
    """Vocabulary sizes of each window feature array, window geometry, and a version digest."""

    window_length: int
    window_stride: int
    vocab_sizes: dict[str, int]
    event_types: tuple[str, ...]
    version: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FeatureSpec:
        d = json.loads(text)
        d["event_types"] = tuple(d["event_types"])
        return cls(**d)


def feature_spec(cfg: SessionizeSettings) -> FeatureSpec:
    """The spec implied by the sessionize settings."""
    sizes = {
        "event_type_ids": len(KNOWN_EVENT_TYPES) + 2,
        "dt_buckets": cfg.dt_buckets,
        "item_buckets": cfg.item_buckets,
        "category_buckets": cfg.category_buckets,
        "position_buckets": cfg.position_buckets,
        "sponsored_flags": 4,  # pad, unknown, false, true
        "price_buckets": cfg.price_buckets,
        "hours": 25,  # pad, 1..24
        "device_change_flags": 3,  # pad, same, changed
        "ip_change_flags": 3,
    }
    body = {
        "gen": SPEC_GENERATION,
        "L": cfg.window_length,
        "S": cfg.window_stride,
        "sizes": sizes,
        "types": list(KNOWN_EVENT_TYPES),
    }
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:12]
    return FeatureSpec(
        window_length=cfg.window_length,
        window_stride=cfg.window_stride,
        vocab_sizes=sizes,
        event_types=tuple(KNOWN_EVENT_TYPES),
        version=f"{SPEC_GENERATION}-{digest}",
    )
