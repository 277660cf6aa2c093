"""What a generator run wrote: the ground truth that ingest and evaluation tests check against."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Bumped when the manifest's layout changes (not when a profile's data changes: see profiles).
MANIFEST_VERSION = 1
MANIFEST_FILE = "manifest.json"


@dataclass
class Manifest:
    """Counts of everything written, per date where it matters.

    ``events`` are well-formed, labelled events (one label row each). Every date's file holds
    ``rows_written_per_date[d] = events_per_date[d] + sum(malformed_per_date[d].values())
    + exact_duplicates_per_date[d] + conflicting_duplicates_per_date[d]`` rows. Ingest should
    keep the events, silently drop exact duplicates and quarantine the rest:
    :meth:`expected_quarantine` gives the per-reason counts.
    """

    profile: str
    profile_version: int
    seed: int
    overrides: dict[str, Any]
    format: str
    start_date: str
    dates: list[str]
    raw_files: dict[str, str]  # date -> path relative to the output folder
    labels_file: str
    events: int
    events_per_date: dict[str, int]
    rows_written_per_date: dict[str, int]
    users: int  # distinct users with at least one event
    fraud_users: int
    fraud_events: int
    fraud_users_per_type: dict[str, int]  # users with at least one event of the type
    fraud_events_per_type: dict[str, int]
    malformed_per_reason: dict[str, int]  # quarantine reason code -> rows injected
    malformed_per_date: dict[str, dict[str, int]]
    exact_duplicates: int
    exact_duplicates_per_date: dict[str, int]
    conflicting_duplicates: int
    conflicting_duplicates_per_date: dict[str, int]
    heavy_user_events: int
    singleton_users: int
    content_sha256: str  # well-formed events and labels, independent of the output format
    manifest_version: int = MANIFEST_VERSION
    generator: str = "ubsd.synth"
    extra: dict[str, Any] = field(default_factory=dict)

    def expected_quarantine(self, date: str | None = None) -> dict[str, int]:
        """Rows ingest should quarantine, by reason code (one date, or all)."""
        dates = [date] if date is not None else self.dates
        out: dict[str, int] = {}
        for d in dates:
            for reason, n in self.malformed_per_date.get(d, {}).items():
                out[reason] = out.get(reason, 0) + n
            n = self.conflicting_duplicates_per_date.get(d, 0)
            out["conflicting_duplicate"] = out.get("conflicting_duplicate", 0) + n
        return {k: v for k, v in out.items() if v}

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown manifest keys: {sorted(unknown)}")
        return cls(**data)

    @classmethod
    def read(cls, out_dir: str | Path) -> Manifest:
        """Read ``manifest.json`` from a generator output folder."""
        return cls.from_json((Path(out_dir) / MANIFEST_FILE).read_text(encoding="utf-8"))

    def write(self, out_dir: str | Path) -> Path:
        path = Path(out_dir) / MANIFEST_FILE
        path.write_text(self.to_json(), encoding="utf-8")
        return path
