"""Run context and run summaries shared by every job.

A run owns a set of UTC dates (``--date D`` or ``--start D1 --end D2``). Its ``run_id`` and
``processed_at`` are the run-metadata columns; everything else a run writes is reproducible.

>>> import datetime as dt
>>> run_dates(date="2026-11-02")
[datetime.date(2026, 11, 2)]
>>> len(run_dates(start="2026-10-30", end="2026-11-02"))
4
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ubsd.io.paths import resolve_under

log = logging.getLogger("ubsd")


def _parse_date(value: str, flag: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{flag} must be a date like 2026-11-01, got {value!r}") from None


def run_dates(
    date: str | None = None, start: str | None = None, end: str | None = None
) -> list[dt.date]:
    """The dates a run owns: one ``date``, or the inclusive range ``start``..``end``."""
    if date and (start or end):
        raise ValueError("give either --date or --start/--end, not both")
    if date:
        return [_parse_date(date, "--date")]
    if not (start and end):
        raise ValueError("give --date D, or --start D1 --end D2")
    d1, d2 = _parse_date(start, "--start"), _parse_date(end, "--end")
    if d2 < d1:
        raise ValueError(f"--end {d2} is before --start {d1}")
    return [d1 + dt.timedelta(days=i) for i in range((d2 - d1).days + 1)]


@dataclass
class RunContext:
    """Identity and timing of one job run."""

    job: str
    dates: list[dt.date]
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    processed_at: dt.datetime = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    )
    started: float = field(default_factory=time.monotonic)

    @property
    def label(self) -> str:
        first, last = self.dates[0].isoformat(), self.dates[-1].isoformat()
        return first if first == last else f"{first}_{last}"

    def elapsed(self) -> float:
        return round(time.monotonic() - self.started, 3)


def write_summary(root: str, runs_dir: str, ctx: RunContext, summary: dict[str, Any]) -> str:
    """Write the run summary as JSON (one file per run, plus ``latest.json``); return its path.

    Summaries hold counts, paths and settings only: no secrets, no raw rows. When the storage
    root is a remote URI (s3a://, abfss://), summaries go to ``runs_dir`` on the driver's local
    disk (they are printed and logged as well).
    """
    body = {
        "job": ctx.job,
        "run_id": ctx.run_id,
        "dates": [d.isoformat() for d in ctx.dates],
        "processed_at": ctx.processed_at.isoformat() + "Z",
        "duration_s": ctx.elapsed(),
        **summary,
    }
    local_root = "." if "://" in root else root
    folder = Path(resolve_under(local_root, f"{runs_dir}/{ctx.job}/{ctx.label}"))
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(body, indent=2, sort_keys=True, default=str)
    path = folder / f"{ctx.run_id}.json"
    path.write_text(text, encoding="utf-8")
    (folder / "latest.json").write_text(text, encoding="utf-8")
    log.info("run summary written to %s", path)
    return str(path)
