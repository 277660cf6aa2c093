"""Ingest quarantine rate of a date: quarantined rows over accepted plus quarantined rows.

Read from the events and quarantine tables (the source of truth, whatever runs wrote them) rather
than ingest's run summaries; duplicates and filtered rows are in neither table and so do not
count. Ingest itself fails a run above ``ingest.max_quarantine_rate`` (20 %); the monitor alerts
far earlier (``monitor.quarantine_rate_alert``, 5 %), on days that ingest still accepted.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame

from ubsd.config import MonitorSettings
from ubsd.monitoring.metric import Metric


def _by_date(df: DataFrame) -> dict[dt.date, int]:
    return {r["date"]: r["count"] for r in df.groupBy("date").count().collect()}


def quarantine_rate(
    events: DataFrame, quarantine: DataFrame, date: dt.date, cfg: MonitorSettings
) -> Metric:
    """``events``/``quarantine``: the date's and the trailing days' rows of both tables."""
    name = "quarantine_rate"
    acc: dict[dt.date, int] = _by_date(events)
    by_reason = quarantine.groupBy("date", "reason").count().collect()
    bad: dict[dt.date, int] = {}
    for r in by_reason:
        bad[r["date"]] = bad.get(r["date"], 0) + r["count"]
    top = sorted((-r["count"], r["reason"]) for r in by_reason if r["date"] == date)[:3]
    e, q = acc.get(date, 0), bad.get(date, 0)
    if e + q == 0:
        return Metric.skip(
            name,
            "no ingest rows on the date (events and quarantine tables)",
            cfg.quarantine_rate_alert,
        )
    rate = q / (e + q)
    prev = [d for d in set(acc) | set(bad) if d != date]
    pe, pq = sum(acc.get(d, 0) for d in prev), sum(bad.get(d, 0) for d in prev)
    ref = pq / (pe + pq) if pe + pq else None
    breached = rate > cfg.quarantine_rate_alert and e + q >= cfg.min_rows
    detail = (
        f"{q} of {e + q} rows quarantined ({rate:.2%}; alert above {cfg.quarantine_rate_alert:.2%})"
    )
    if q:
        detail += "; top reasons: " + ", ".join(f"{reason} {-c}" for c, reason in top)
    detail += (
        f"; trailing {len(prev)} day(s): {ref:.2%}" if ref is not None else "; no trailing days"
    )
    if rate > cfg.quarantine_rate_alert and not breached:
        detail += f"; not alerting: fewer than monitor.min_rows={cfg.min_rows} rows"
    return Metric(
        name,
        rate,
        reference=ref,
        threshold=cfg.quarantine_rate_alert,
        breached=breached,
        detail=detail,
        rows=e + q,
    )
