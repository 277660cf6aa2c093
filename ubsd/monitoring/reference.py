"""The training reference of the model that scored a date, read from its registered manifest.

Training stores validation-score quantiles and the validation flagged rate in the model's
``info["reference"]`` (:func:`ubsd.training.trainer.reference_distribution`). The monitor finds
the model that wrote the date's labels (``model_name``, ``model_version`` columns), resolves
exactly that version in the registry and reads its reference. Every way this can fail becomes
a reason string, so the metrics that need it are skipped with that reason instead of crashing.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
from dataclasses import dataclass, field

from ubsd.config import Settings
from ubsd.registry.resolve import RegistryError, resolve

log = logging.getLogger("ubsd.monitoring")


@dataclass(frozen=True)
class ModelReference:
    """What the model saw on its validation windows."""

    name: str
    version: str
    zero_label_quantiles: list[float] = field(default_factory=list)
    probability_quantiles: list[float] = field(default_factory=list)
    flagged_rate: float | None = None

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"

    @classmethod
    def from_info(cls, name: str, version: str, ref: dict) -> ModelReference:
        rate = ref.get("flagged_rate")
        return cls(
            name=name,
            version=version,
            zero_label_quantiles=[float(x) for x in ref.get("zero_label_quantiles") or []],
            probability_quantiles=[float(x) for x in ref.get("probability_quantiles") or []],
            flagged_rate=None if rate is None else float(rate),
        )


def scoring_model(counts: list[tuple], date: dt.date) -> tuple[str, str] | None:
    """(name, version) of the model that scored most of the date's windows; None if none.

    ``counts``: (date, model name, model version, windows, ...) rows.

    >>> d, before = dt.date(2026, 11, 2), dt.date(2026, 11, 1)
    >>> scoring_model([(d, "m", "3", 10), (d, "m", "4", 90), (before, "m", "2", 500)], d)
    ('m', '4')
    """
    rows = sorted((c[3], c[1], c[2]) for c in counts if c[0] == date)
    if not rows:
        return None
    if len(rows) > 1:
        log.warning("several model versions scored %s: %s", date, rows)
    return rows[-1][1], rows[-1][2]


def load_reference(settings: Settings, name: str, version: str) -> ModelReference | str:
    """The reference of ``name`` version ``version``, or why it is unavailable."""
    scoped = settings.model_copy(
        update={"mlflow": settings.mlflow.model_copy(update={"registered_model": name})}
    )
    with tempfile.TemporaryDirectory(prefix="ubsd-monitor-") as tmp:
        try:
            model = resolve(scoped, version=version, cache_dir=tmp).load()
        except RegistryError as exc:
            return f"no training reference: {exc}"
    ref = model.info.get("reference")
    if not isinstance(ref, dict) or not ref:
        return f"no training reference: model {name} v{version} stores none in its manifest"
    return ModelReference.from_info(name, version, ref)
