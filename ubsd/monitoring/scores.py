"""Score metrics of a date: PSI of both scores against the training reference, flagged rate
against its trailing average, and the day's volume."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from ubsd.config import MonitorSettings
from ubsd.monitoring.binning import bin_index
from ubsd.monitoring.metric import Distribution, Metric, fmt
from ubsd.monitoring.psi import expected_from_quantiles, interior_edges, psi, psi_band
from ubsd.monitoring.reference import ModelReference

SCORE_COLUMNS = {
    "psi_fraud_probability": ("fraud_probability", "probability_quantiles"),
    "psi_zero_label_score": ("zero_label_score", "zero_label_quantiles"),
}


def edge_labels(edges: list[float]) -> list[str]:
    """Short bin labels for charts.

    >>> edge_labels([0.1, 0.5])
    ['<=0.1', '<=0.5', '>0.5']
    """
    return [f"<={fmt(e, 3)}" for e in edges] + ([f">{fmt(edges[-1], 3)}"] if edges else ["all"])


def _psi_metric(
    name: str, counts: list[int], qs: list[float], ref_label: str, cfg: MonitorSettings
) -> Metric:
    column = SCORE_COLUMNS[name][0]
    if not sum(counts):
        return Metric.skip(name, f"{column} is null on every scored window", cfg.psi_alert)
    n = sum(counts)
    expected = expected_from_quantiles(qs)
    value = psi(expected, counts)
    breached = value > cfg.psi_alert and n >= cfg.min_rows
    band = psi_band(value, cfg.psi_warn, cfg.psi_alert)
    detail = (
        f"{column} distribution vs the training reference of {ref_label}: PSI "
        f"{fmt(value)} ({band}; alert above {fmt(cfg.psi_alert)}) over {n} windows"
    )
    if value > cfg.psi_alert and not breached:
        detail += f"; not alerting: fewer than monitor.min_rows={cfg.min_rows} windows"
    return Metric(
        name,
        value,
        reference=0.0,
        threshold=cfg.psi_alert,
        breached=breached,
        detail=detail,
        rows=n,
        distribution=Distribution(
            edge_labels(interior_edges(qs)), expected, [c / n for c in counts]
        ),
    )


def score_psis(day: DataFrame, reference: ModelReference | str, cfg: MonitorSettings) -> list:
    """PSI of both scores against the reference quantiles: one Spark job for the two."""
    out: dict[str, Metric] = {}
    edges: dict[str, list[float]] = {}
    for name, (_, key) in SCORE_COLUMNS.items():
        if isinstance(reference, str):
            out[name] = Metric.skip(name, reference, cfg.psi_alert)
        elif len(getattr(reference, key)) < 3:
            why = f"{reference.label} has no {key} in its reference"
            out[name] = Metric.skip(name, why, cfg.psi_alert)
        else:
            edges[name] = interior_edges(getattr(reference, key))
    if edges:
        assert isinstance(reference, ModelReference)
        bins = [
            F.when(
                F.col(SCORE_COLUMNS[n][0]).isNotNull(), bin_index(F.col(SCORE_COLUMNS[n][0]), e)
            ).alias(n)
            for n, e in edges.items()
        ]
        counts = {n: [0] * (len(e) + 1) for n, e in edges.items()}
        for r in day.groupBy(*bins).count().collect():
            for n in edges:
                if r[n] is not None:
                    counts[n][r[n]] += r["count"]
        for n in edges:
            qs = getattr(reference, SCORE_COLUMNS[n][1])
            out[n] = _psi_metric(n, counts[n], qs, reference.label, cfg)
    return [out[n] for n in SCORE_COLUMNS]


Days = list[tuple[dt.date, int, float]]  # (date, scored windows, flagged rate)


def label_counts(labels: DataFrame) -> list[tuple[dt.date, str, str, int, int]]:
    """(date, model name, model version, windows, flagged) per date and model: one job."""
    rows = (
        labels.groupBy("date", "model_name", "model_version")
        .agg(F.count("*").alias("n"), F.sum(F.col("is_fraud").cast("int")).alias("k"))
        .collect()
    )
    return sorted((r["date"], r["model_name"], r["model_version"], r["n"], r["k"]) for r in rows)


def daily_rates(counts: list[tuple[dt.date, str, str, int, int]], before: dt.date) -> Days:
    """Per-date windows and flagged rate of the days before ``before``."""
    per: dict[dt.date, list[int]] = {}
    for d, _, _, n, k in counts:
        if d < before:
            acc = per.setdefault(d, [0, 0])
            acc[0] += n
            acc[1] += k or 0
    return [(d, n, k / n) for d, (n, k) in sorted(per.items()) if n]


def flagged_rate(
    n: int,
    flagged: int,
    days: Days,
    reference: ModelReference | str,
    cfg: MonitorSettings,
) -> Metric:
    """Today's share of flagged windows against the mean of the trailing days' rates (the
    model's validation rate before there are any)."""
    name = "flagged_rate"
    if n == 0:
        return Metric.skip(name, "no scored windows on the date", cfg.flagged_rate_ratio)
    rate = flagged / n
    if days:
        ref = sum(r for _, _, r in days) / len(days)
        source = f"mean of {len(days)} trailing day(s) {days[0][0]}..{days[-1][0]}"
    elif isinstance(reference, ModelReference) and reference.flagged_rate is not None:
        ref = reference.flagged_rate
        source = f"validation flagged rate of {reference.label} (no trailing days yet)"
    else:
        why = reference if isinstance(reference, str) else "the model stores no flagged_rate"
        m = Metric(name, rate, threshold=cfg.flagged_rate_ratio, rows=n)
        m.detail = (
            f"{flagged} of {n} windows flagged ({rate:.2%}); no reference: no scored trailing "
            f"days and {why}"
        )
        return m
    ratio = rate / ref if ref > 0 else (float("inf") if rate > 0 else 1.0)
    far = ratio > cfg.flagged_rate_ratio or ratio < 1 / cfg.flagged_rate_ratio
    breached = far and abs(rate - ref) >= cfg.flagged_rate_min_change and n >= cfg.min_rows
    ratio_txt = "inf" if ratio == float("inf") else f"{ratio:.2f}x"
    detail = (
        f"{flagged} of {n} windows flagged ({rate:.2%}), {ratio_txt} the reference "
        f"{ref:.2%} ({source}); alert outside {1 / cfg.flagged_rate_ratio:.2f}x.."
        f"{cfg.flagged_rate_ratio:.2f}x with a change of at least "
        f"{cfg.flagged_rate_min_change:.2%}"
    )
    if far and not breached and n < cfg.min_rows:
        detail += f"; not alerting: fewer than monitor.min_rows={cfg.min_rows} windows"
    labels = [str(d) for d, _, _ in days] + ["today"]
    return Metric(
        name,
        rate,
        reference=ref,
        threshold=cfg.flagged_rate_ratio,
        breached=breached,
        detail=detail,
        rows=n,
        extra={"series": (labels, [r for _, _, r in days] + [rate])},
    )


def volume(n: int, days: Days) -> Metric:
    """Scored windows on the date against the trailing daily mean (information, no alert)."""
    ref = sum(c for _, c, _ in days) / len(days) if days else None
    return Metric(
        "scored_windows",
        float(n),
        reference=ref,
        rows=n,
        detail=f"{n} windows scored; trailing daily mean {fmt(ref)} over {len(days)} day(s)",
    )


def score_metrics(
    day: DataFrame,
    counts: list[tuple[dt.date, str, str, int, int]],
    date: dt.date,
    reference: ModelReference | str,
    cfg: MonitorSettings,
) -> list[Metric]:
    """All score metrics of one date. ``day``: its fraud-labels rows; ``counts``:
    :func:`label_counts` of the date and the ``monitor.trailing_days`` before it."""
    n = sum(c[3] for c in counts if c[0] == date)
    flagged = sum(c[4] or 0 for c in counts if c[0] == date)
    days = daily_rates(counts, date)
    out = [volume(n, days)]
    if n == 0:
        why = "no scored windows on the date (fraud labels table)"
        out += [Metric.skip(name, why, cfg.psi_alert) for name in SCORE_COLUMNS]
    else:
        out += score_psis(day, reference, cfg)
    out.append(flagged_rate(n, flagged, days, reference, cfg))
    return out
