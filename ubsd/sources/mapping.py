"""The YAML column mapping of a ``mapped`` source: a team's own CSV/JSON/Parquet, no code.

>>> m = Mapping.model_validate({"format": "csv", "columns": {"uid": "user_id", "when": "ts",
...     "action": "event_type"}, "timestamp_format": "yyyy-MM-dd HH:mm:ss"})
>>> m.source_column("user_id"), m.source_column("item_id")
('uid', None)
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ubsd.io.schemas import RAW_FIELDS

_REQUIRED = ("user_id", "ts")


class MappingError(ValueError):
    """A mapping file is missing or invalid."""


class Mapping(BaseModel):
    """One source format: how to read it and which column becomes which contract field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["csv", "json", "parquet"] = Field(description="JSON = JSON lines.")
    delimiter: str = Field(",", min_length=1, max_length=1, description="CSV field separator.")
    header: bool = Field(True, description="CSV: the first line of each file names the columns.")
    column_names: list[str] | None = Field(None, description="CSV without a header: the names.")
    columns: dict[str, str] = Field(description="Source column -> contract field.")
    constants: dict[str, str] = Field(
        default_factory=dict, description="Contract field -> a value every row gets."
    )
    timestamp_format: str = Field(
        "auto",
        description="A Spark datetime pattern, epoch_s, epoch_ms, or auto (ingest's own parser).",
    )
    timestamp_zone: str = Field("UTC", description="Zone of timestamps whose text has none.")
    event_types: dict[str, str] = Field(
        default_factory=dict, description="Source event type value -> contract event type."
    )
    unmapped_event_types: Literal["keep", "quarantine", "filter"] = Field(
        "keep", description="Values not in event_types: kept as they are, quarantined, filtered."
    )
    sensitive_user_id: bool = Field(
        False, description="The user id holds clear personal data: store it as a keyed hash."
    )
    label_column: str | None = Field(
        None, description="A ground-truth column: goes to the labels input, never an event."
    )
    label_positive_values: list[str] = Field(
        default_factory=lambda: ["1", "true", "yes"],
        description="Values of label_column (lower-cased) that mean positive.",
    )
    label_type: str = Field("label", description="fraud_type written with positive labels.")

    @model_validator(mode="after")
    def _consistent(self) -> Mapping:
        targets = list(self.columns.values()) + list(self.constants)
        unknown = sorted(set(targets) - set(RAW_FIELDS))
        if unknown:
            raise ValueError(f"not contract fields: {unknown} (known: {list(RAW_FIELDS)})")
        twice = sorted({t for t in targets if targets.count(t) > 1})
        if twice:
            raise ValueError(f"contract fields mapped more than once: {twice}")
        missing = [f for f in (*_REQUIRED, "event_type") if f not in targets]
        if missing:
            raise ValueError(f"required contract fields not mapped: {missing}")
        if self.label_column and self.label_column in self.columns:
            raise ValueError("label_column must not also be mapped to an event field")
        if self.format == "csv" and not self.header and not self.column_names:
            raise ValueError("a CSV without header needs column_names")
        return self

    def source_column(self, field: str) -> str | None:
        """The source column mapped to a contract field, if any."""
        for src, dst in self.columns.items():
            if dst == field:
                return src
        return None

    def source_columns(self) -> list[str]:
        """Every source column the mapping reads (mapped ones and the label)."""
        cols = list(self.columns)
        return [*cols, self.label_column] if self.label_column else cols


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate a mapping YAML file (safe loader; unknown keys are errors)."""
    p = Path(path)
    if not p.is_file():
        raise MappingError(f"mapping file not found: {p}")
    try:
        return Mapping.model_validate(yaml.safe_load(p.read_text(encoding="utf-8")) or {})
    except ValidationError as exc:
        raise MappingError(f"invalid mapping {p}:\n{exc}") from None
