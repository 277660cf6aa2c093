"""Input drift of a date's windows against the trailing days of the windows table.

The reference is the ``monitor.trailing_days`` dates before the date in the windows table (not
the model's training dates): it needs nothing stored with the model, follows seasonality, and
catches sudden shifts (a bot wave, a broken tracker) the day they happen; slow drift away from
what the model learnt shows in the score PSI against the training reference instead.

Events are counted once per window that holds them (windows overlap by L - S events), the same
way on both sides, so shares compare like with like.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from ubsd.config import MonitorSettings
from ubsd.monitoring.binning import category_counts, counts_by_edges, quantiles
from ubsd.monitoring.metric import Distribution, Metric, fmt
from ubsd.monitoring.psi import categorical_psi, interior_edges, psi, psi_band
from ubsd.monitoring.scores import edge_labels

SIDE = "_today"


def _psi_metric(
    name: str,
    what: str,
    value: float,
    ref_label: str,
    rows: int,
    cfg: MonitorSettings,
    dist: Distribution,
) -> Metric:
    breached = value > cfg.psi_alert and rows >= cfg.min_rows
    detail = (
        f"{what} vs {ref_label}: PSI {fmt(value)} ({psi_band(value, cfg.psi_warn, cfg.psi_alert)}"
        f"; alert above {fmt(cfg.psi_alert)}) over {rows} values"
    )
    if value > cfg.psi_alert and not breached:
        detail += f"; not alerting: fewer than monitor.min_rows={cfg.min_rows} values"
    return Metric(
        name,
        value,
        reference=0.0,
        threshold=cfg.psi_alert,
        breached=breached,
        detail=detail,
        rows=rows,
        distribution=dist,
    )


def _numeric(
    name: str, what: str, df: DataFrame, column: str, ref_label: str, cfg: MonitorSettings
) -> Metric:
    qs = quantiles(df.where(~F.col(SIDE)), column, cfg.bins)
    if not qs:
        return Metric.skip(name, f"no reference: {ref_label} has no values", cfg.psi_alert)
    edges = interior_edges(qs)
    counts = counts_by_edges(df, column, edges, SIDE)
    today, ref = counts.get(True), counts.get(False)
    if not today or not ref:
        return Metric.skip(name, f"no {what} values on the date", cfg.psi_alert)
    value = psi(ref, today)
    dist = Distribution(
        edge_labels(edges), [c / sum(ref) for c in ref], [c / sum(today) for c in today]
    )
    return _psi_metric(name, what, value, ref_label, sum(today), cfg, dist)


def _event_types(events: DataFrame, ref_label: str, cfg: MonitorSettings) -> Metric:
    name = "psi_event_type_mix"
    counts = category_counts(events, "event_type", SIDE)
    today, ref = counts.get(True), counts.get(False)
    if not today:
        return Metric.skip(name, "no events in the date's windows", cfg.psi_alert)
    if not ref:
        return Metric.skip(name, f"no reference: {ref_label} has no events", cfg.psi_alert)
    value, cats = categorical_psi(ref, today)
    rt, tt = sum(ref.values()), sum(today.values())
    dist = Distribution(
        cats, [ref.get(c, 0) / rt for c in cats], [today.get(c, 0) / tt for c in cats]
    )
    return _psi_metric(name, "event-type mix", value, ref_label, tt, cfg, dist)


def input_metrics(
    windows: DataFrame, today_col: str, ref_label: str, cfg: MonitorSettings
) -> list[Metric]:
    """Event-type mix, inter-event seconds and window length (real events only, padding
    excluded). ``windows``: the date's and the reference days' windows, ``today_col`` true on
    the date's."""
    w = windows.withColumn(SIDE, F.col(today_col))
    if cfg.input_sample_fraction < 1:
        cut = int(cfg.input_sample_fraction * 10_000)
        w = w.where(F.abs(F.xxhash64("window_id")) % 10_000 < cut)
    w = w.select(SIDE, "n_events", "event_types", "dt_seconds").cache()
    try:
        events = w.select(
            SIDE,
            F.explode(
                F.arrays_zip(
                    F.slice("event_types", 1, F.col("n_events")).alias("event_type"),
                    F.slice("dt_seconds", 1, F.col("n_events")).alias("dt"),
                )
            ).alias("e"),
        ).select(SIDE, "e.event_type", "e.dt")
        return [
            _event_types(events, ref_label, cfg),
            _numeric(
                "psi_inter_event_seconds", "inter-event seconds", events, "dt", ref_label, cfg
            ),
            _numeric("psi_window_length", "window length", w, "n_events", ref_label, cfg),
        ]
    finally:
        w.unpersist()
