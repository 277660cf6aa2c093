"""The weekly DAG's date ranges: training, then the held-out gate dates right after it.

``jobs/train.py`` and ``jobs/evaluate.py`` take the training range (they split it by time and
user themselves); ``jobs/promote.py`` compares challenger and champion on dates *after* it.
"""

from __future__ import annotations

import datetime as dt


def _span(name: str, first: dt.date, last: dt.date) -> dict[str, str]:
    if last < first:
        raise ValueError(f"{name} range ends ({last}) before it starts ({first})")
    dates = [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
    label = f"{first}_{last}" if first != last else str(first)
    return {
        f"{name}_start": str(first),
        f"{name}_end": str(last),
        f"{name}_label": label,  # the run summary folder of a job over this range
        f"{name}_dates": ",".join(dates),
    }


def compute_ranges(
    start: str | None,
    end: str | None,
    gate_start: str | None,
    gate_end: str | None,
    interval_end: str,
    train_days: int | None = None,
    gate_days: int | None = None,
) -> dict[str, str]:
    """``train_*``, ``gate_*`` and ``all_*`` (both, for sessionize) start, end, label, dates.

    Flat keys, so that the DAG pushes each as its own XCom (``multiple_outputs``).

    Explicit dates win; otherwise the gate is the last ``ubsd_gate_days`` days before the
    interval's end (the Sunday before the run) and training the ``ubsd_train_days`` before it.

    >>> r = compute_ranges(None, None, None, None, "2026-11-09", train_days=5, gate_days=2)
    >>> r["train_label"], r["gate_label"], r["all_label"]
    ('2026-11-02_2026-11-06', '2026-11-07_2026-11-08', '2026-11-02_2026-11-08')
    >>> compute_ranges("2026-11-01", "2026-11-02", "2026-11-03", "2026-11-03", "x")["gate_dates"]
    '2026-11-03'
    """
    from ubsd_airflow.settings import variable  # Variables are read only when needed

    if not gate_days and not (start and end and gate_start and gate_end):
        gate_days = int(variable("ubsd_gate_days", "2"))
    if start and end:
        first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    else:
        train_days = train_days or int(variable("ubsd_train_days", "28"))
        last = dt.date.fromisoformat(interval_end) - dt.timedelta(days=1 + (gate_days or 0))
        first = last - dt.timedelta(days=train_days - 1)
    if gate_start and gate_end:
        g_first, g_last = dt.date.fromisoformat(gate_start), dt.date.fromisoformat(gate_end)
    else:
        g_first, g_last = last + dt.timedelta(days=1), last + dt.timedelta(days=gate_days or 0)
    if g_first <= last:
        raise ValueError(f"gate dates ({g_first}..) must follow the training range (..{last})")
    return {
        **_span("train", first, last),
        **_span("gate", g_first, g_last),
        **_span("all", min(first, g_first), max(last, g_last)),
    }
