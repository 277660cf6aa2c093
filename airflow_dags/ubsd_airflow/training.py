"""The weekly DAG's training range: explicit in the run configuration, else the last N days."""

from __future__ import annotations

import datetime as dt


def compute_training_range(start: str | None, end: str | None, interval_end: str) -> dict[str, str]:
    """Explicit ``start``/``end``, else ``ubsd_train_days`` days ending the day before.

    >>> compute_training_range("2026-11-01", "2026-11-02", "2026-11-09")["label"]
    '2026-11-01_2026-11-02'
    """
    if start and end:
        first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    else:
        from ubsd_airflow.settings import variable

        days = int(variable("ubsd_train_days", "28"))
        last = dt.date.fromisoformat(interval_end) - dt.timedelta(days=1)
        first = last - dt.timedelta(days=days - 1)
    if last < first:
        raise ValueError(f"training range ends ({last}) before it starts ({first})")
    dates = [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
    return {
        "start": first.isoformat(),
        "end": last.isoformat(),
        "label": f"{first}_{last}" if first != last else str(first),
        "dates": ",".join(dates),
    }
