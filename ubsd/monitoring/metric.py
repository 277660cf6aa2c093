"""One daily monitoring metric: its value, what it was compared with, and whether it alerts.

A metric that cannot be computed (an empty day, no reference) is *skipped*: its value is null,
it never alerts, and ``detail`` says why. A metric computed on fewer rows than
``monitor.min_rows`` is reported but does not alert either (too noisy to page anyone).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Distribution:
    """Shares per bin on the reference and today, kept for the report's charts."""

    labels: list[str]
    reference: list[float]
    today: list[float]


@dataclass
class Metric:
    name: str
    value: float | None
    reference: float | None = None
    threshold: float | None = None
    breached: bool = False
    detail: str = ""
    rows: int | None = None  # rows the value was computed from
    distribution: Distribution | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def skipped(self) -> bool:
        return self.value is None

    @classmethod
    def skip(cls, name: str, why: str, threshold: float | None = None) -> Metric:
        return cls(name, None, threshold=threshold, detail=f"skipped: {why}")

    def row(self) -> dict[str, Any]:
        """The metric's columns of ``MONITOR_METRICS_SCHEMA`` (date and run columns aside)."""
        return {
            "metric": self.name,
            "value": None if self.value is None else float(self.value),
            "reference": None if self.reference is None else float(self.reference),
            "alert_threshold": None if self.threshold is None else float(self.threshold),
            "breached": bool(self.breached),
            "detail": self.detail,
        }


def fmt(x: float | None, digits: int = 4) -> str:
    """Compact number for messages.

    >>> fmt(0.123456), fmt(None), fmt(12.0)
    ('0.1235', 'n/a', '12')
    """
    if x is None:
        return "n/a"
    return f"{x:.{digits}g}"
