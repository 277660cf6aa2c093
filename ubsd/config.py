"""The one typed configuration model: defaults here, YAML under ``conf/`` overrides them, CLI
``--set key.path=value`` overrides YAML. Unknown keys are errors, never ignored.

>>> cfg = load_config(None, overrides=["sessionize.window_length=128"])
>>> cfg.sessionize.window_length, cfg.sessionize.window_stride
(128, 32)
>>> cfg.storage.format
'delta'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SparkSettings(_Strict):
    """How the one SparkSession factory builds sessions."""

    master: str | None = Field(
        "local[2]",
        description="Spark master for local runs; null on a cluster takes what spark-submit gives.",
    )
    app_name: str = Field("ubsd", description="Application name shown in the Spark UI.")
    shuffle_partitions: int = Field(4, ge=1, description="spark.sql.shuffle.partitions (local).")
    driver_memory: str | None = Field(None, description="spark.driver.memory for local runs.")
    ivy_dir: str | None = Field(
        None, description="Ivy cache for the Delta jars (spark.jars.ivy); null = Spark default."
    )
    log_level: str = Field("WARN", description="Spark log level (WARN keeps job output readable).")
    conf: dict[str, str] = Field(
        default_factory=dict, description="Extra Spark settings passed to the builder as they are."
    )


class StorageSettings(_Strict):
    """Where tables live and in which format."""

    root: str = Field("./data", description="Root folder or URI under which every table lives.")
    format: Literal["delta", "parquet"] = Field(
        "delta", description="Table format; parquet is a fallback without atomic replaces."
    )
    input_path: str = Field(
        "raw/date={date}",
        description="Raw input, relative to root (or absolute); {date} is replaced per run date.",
    )
    labels_path: str | None = Field(
        None, description="Optional ground-truth labels (Parquet, LABELS_SCHEMA), relative to root."
    )
    events_table: str = Field("tables/events", description="Events table (output of ingest).")
    quarantine_table: str = Field(
        "tables/quarantine", description="Quarantined rows with reason (output of ingest)."
    )
    windows_table: str = Field(
        "tables/windows", description="Windows table (output of sessionize)."
    )
    runs_dir: str = Field("runs", description="Run summaries (JSON), relative to root.")


class IngestSettings(_Strict):
    """Validation and normalization rules of the ingest job."""

    input_format: Literal["json", "csv", "parquet"] = Field(
        "json", description="Raw input format: JSON lines, CSV with a header, or Parquet."
    )
    missing_input: Literal["fail", "empty"] = Field(
        "fail", description="What a run date without input does: fail, or write an empty day."
    )
    min_timestamp: str = Field("2000-01-01", description="Events before this are out of range.")
    future_skew_hours: float = Field(
        24.0, ge=0, description="Events later than the run's last date + this are 'in the future'."
    )
    naive_timestamps: Literal["utc", "reject"] = Field(
        "utc", description="Timestamps without a zone are read as UTC, or quarantined."
    )
    allow_unknown_event_types: bool = Field(
        True, description="Accept event types outside the contract's list (the vocabulary is open)."
    )
    max_field_chars: int = Field(4096, ge=16, description="Longer text fields are quarantined.")
    max_quarantine_rate: float = Field(
        0.2, ge=0, le=1, description="The run fails, with the numbers, above this quarantine rate."
    )
    hash_key_env: str = Field(
        "UBSD_HASH_SECRET", description="Environment variable holding the key for ip/device hashes."
    )
    allow_dev_hash_key: bool = Field(
        False, description="Use a fixed, public development key when the env var is unset (local)."
    )


class SessionizeSettings(_Strict):
    """Session breaks, windows and feature buckets."""

    gap_minutes: float = Field(30.0, gt=0, description="Inactivity gap that breaks a session.")
    max_session_minutes: float = Field(
        240.0, gt=0, description="Sessions are cut into chunks of at most this duration."
    )
    max_session_events: int = Field(
        10_000, ge=1, description="Sessions are cut into chunks of at most this many events."
    )
    lookback_hours: float = Field(
        24.0, ge=0, description="How far into the previous date a run looks to stitch sessions."
    )
    window_length: int = Field(
        64, ge=2, description="Events per window (L); shorter ones are padded."
    )
    window_stride: int = Field(32, ge=1, description="Events between window starts (S <= L).")
    item_buckets: int = Field(1024, ge=2, description="Hash buckets for item ids.")
    category_buckets: int = Field(128, ge=2, description="Hash buckets for category ids.")
    dt_buckets: int = Field(32, ge=2, description="Log-scaled buckets for inter-event seconds.")
    price_buckets: int = Field(24, ge=2, description="Log-scaled buckets for prices.")
    position_buckets: int = Field(24, ge=2, description="Result positions 1..n-1, the rest in n.")

    @model_validator(mode="after")
    def _stride_fits(self) -> SessionizeSettings:
        if self.window_stride > self.window_length:
            raise ValueError("sessionize.window_stride must not exceed window_length")
        return self


class Settings(_Strict):
    """Top-level configuration."""

    env: str = Field("local", description="Name of the environment (for run summaries).")
    spark: SparkSettings = SparkSettings()
    storage: StorageSettings = StorageSettings()
    ingest: IngestSettings = IngestSettings()
    sessionize: SessionizeSettings = SessionizeSettings()


class ConfigError(ValueError):
    """A configuration file or override is invalid."""


def _set_path(tree: dict[str, Any], dotted: str, value: Any) -> None:
    node = tree
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {dotted!r}: {part!r} is not a section")
    node[parts[-1]] = value


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> Settings:
    """Load defaults, then the YAML file (safe loader), then ``key.path=value`` overrides.

    Override values are parsed as YAML scalars (``true``, ``3``, ``null``), never evaluated.
    """
    tree: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        loaded = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{p}: top level must be a mapping")
        tree = _deep_merge(tree, loaded)
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        key, raw = item.split("=", 1)
        _set_path(tree, key.strip(), yaml.safe_load(raw) if raw.strip() else "")
    try:
        return Settings.model_validate(tree)
    except ValidationError as exc:
        where = f" in {path}" if path else ""
        raise ConfigError(f"invalid configuration{where}:\n{exc}") from None


def reference_markdown() -> str:
    """Markdown table of every configuration key, its default and its meaning.

    ``docs/configuration.md`` embeds this output; a test keeps the two in step.
    """
    lines: list[str] = []
    for section, field in Settings.model_fields.items():
        model = field.annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            lines += [f"| `{section}` | `{field.default!r}` | {field.description or ''} |"]
            continue
        lines += ["", f"### `{section}`", "", (model.__doc__ or "").strip(), ""]
        lines += ["| key | default | meaning |", "|---|---|---|"]
        for name, sub in model.model_fields.items():
            default = sub.default if sub.default_factory is None else sub.default_factory()
            lines.append(f"| `{section}.{name}` | `{default!r}` | {sub.description or ''} |")
    return "\n".join(lines).strip() + "\n"


if __name__ == "__main__":
    print(reference_markdown(), end="")
