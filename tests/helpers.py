"""Test helpers shared by several test modules."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ubsd.config import Settings, load_config

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def make_settings(root: Path, *overrides: str) -> Settings:
    """Test settings: tables under ``root``, dev hash key, small Spark."""
    return load_config(
        None,
        [
            f"storage.root={root}",
            "ingest.allow_dev_hash_key=true",
            "spark.shuffle_partitions=2",
            *overrides,
        ],
    )


def write_jsonl(path: Path, rows: Iterable[dict[str, Any] | str]) -> Path:
    """Write rows (dicts, or raw strings written as they are) as JSON lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
    return path


def event(
    event_id: str, user_id: str, ts: str, event_type: str = "view", **fields: Any
) -> dict[str, Any]:
    return {"event_id": event_id, "user_id": user_id, "ts": ts, "event_type": event_type, **fields}
