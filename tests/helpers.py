"""Test helpers shared by several test modules."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ubsd.config import Settings, load_config

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# A tiny model on 16-event windows that trains in seconds on 2 cores: the training tests' base.
TINY_TRAINING = (
    "model.size=tiny",
    "sessionize.window_length=16",
    "sessionize.window_stride=8",
    "training.batch_size=32",
    "training.max_pretrain_steps=60",
    "training.max_finetune_steps=60",
    "training.eval_every=20",
)


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


def write_events(spark: Any, settings: Settings, rows: list[dict[str, Any]]) -> None:
    """Write rows straight into the events table (bypassing ingest) for sessionize tests.

    Each row needs event_id, user_id and ts (a datetime); other fields default to null.
    """
    import datetime as dt

    from ubsd.io.paths import resolve_under
    from ubsd.io.schemas import EVENTS_SCHEMA
    from ubsd.io.tables import write_dates

    full = []
    for r in rows:
        row = {f.name: None for f in EVENTS_SCHEMA.fields}
        row.update(
            {"event_type": "view", "run_id": "test", "processed_at": dt.datetime(2026, 1, 1)}
        )
        row.update(r)
        row["date"] = row["ts"].date()
        full.append(row)
    df = spark.createDataFrame(full, EVENTS_SCHEMA)
    dates = sorted({r["date"] for r in full})
    path = resolve_under(str(settings.storage.root), settings.storage.events_table)
    write_dates(df, path, dates, settings.storage.format, EVENTS_SCHEMA)


def ingest_and_sessionize(
    spark: Any, root: Path, *overrides: str, start: str, end: str, sessionize: bool = True
) -> tuple[Settings, dict[str, Any], dict[str, Any] | None]:
    """Run ingest (and sessionize) over ``start..end`` with test settings (source adapters)."""
    from ubsd.ingest import run_ingest
    from ubsd.runs import RunContext, run_dates
    from ubsd.sessionize.job import run_sessionize

    settings = make_settings(root, *overrides)
    dates = run_dates(start=start, end=end)
    ingested = run_ingest(spark, settings, RunContext("ingest", dates))
    windows = (
        run_sessionize(spark, settings, RunContext("sessionize", dates)) if sessionize else None
    )
    return settings, ingested, windows
