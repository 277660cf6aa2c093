"""What a label-free run found: the most anomalous sessions with reasons, and a score histogram.

The unsupervised run (``jobs/unsupervised.py``) has no fine-tuned classifier, so the labels table
carries the zero-label score and a threshold from the alert budget. This report ranks sessions by
their most anomalous window and, when the windows table happens to carry labels (TalkingData's
``is_attributed``, a generated day's ground truth), says how the score relates to them next to a
simple click-rate rule (events per minute), so the score is judged against the obvious heuristic.

>>> import numpy as np
>>> y = np.array([0, 0, 1, 1]); s = np.array([0.1, 0.2, 0.3, 0.4])
>>> relation(y, {"zero_label": s, "click_rate": -s}, positive="label")["zero_label"]["roc_auc"]
1.0
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from ubsd.evaluation.metrics import recall_at_fpr


def click_rate() -> Column:
    """Events per minute over the window's span (a 1-second floor keeps single events finite)."""
    span = F.unix_timestamp("end_ts") - F.unix_timestamp("start_ts")
    return F.col("n_events") * F.lit(60.0) / F.greatest(span, F.lit(1))


def top_sessions(labels: DataFrame, n: int = 20) -> list[dict[str, Any]]:
    """The ``n`` sessions whose most anomalous window scores highest, with that window's reason."""
    from pyspark.sql import Window

    best = Window.partitionBy("session_id").orderBy(
        F.col("zero_label_score").desc_nulls_last(), "window_id"
    )
    rows = (
        labels.withColumn("_rank", F.row_number().over(best))
        .withColumn("windows_in_session", F.count(F.lit(1)).over(Window.partitionBy("session_id")))
        .where("_rank = 1")
        # ties (common for one-event windows) go to the longer window: more behavior to read
        .orderBy(
            F.col("zero_label_score").desc_nulls_last(), F.col("n_events").desc(), "session_id"
        )
        .select(
            "session_id",
            "user_id",
            "date",
            "window_id",
            "zero_label_score",
            "fraud_probability",
            "is_fraud",
            "n_events",
            "start_ts",
            "end_ts",
            "windows_in_session",
            click_rate().alias("events_per_minute"),
            "reason_text",
        )
        .limit(n)
        .collect()
    )
    out = []
    for r in rows:
        d = r.asDict()
        d["user_id"] = d["user_id"][:16]  # keyed hashes; a prefix is enough to look one up
        for k in ("date", "start_ts", "end_ts"):
            d[k] = str(d[k])
        for k in ("zero_label_score", "events_per_minute", "fraud_probability"):
            d[k] = None if d[k] is None else round(float(d[k]), 4)
        out.append(d)
    return out


def relation(
    y: np.ndarray, scores: Mapping[str, np.ndarray], positive: str, max_fpr: float = 0.01
) -> dict[str, Any]:
    """ROC-AUC, PR-AUC and recall at ``max_fpr`` of each score against ``y`` (1 = positive)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    out: dict[str, Any] = {"positive": positive, "n": int(y.size), "positives": int(y.sum())}
    for name, s in scores.items():
        ok = np.isfinite(s)
        yy, ss = y[ok], s[ok]
        if yy.size == 0 or yy.min() == yy.max():
            out[name] = {"roc_auc": None, "pr_auc": None, "recall_at_1pct_fpr": None}
            continue
        out[name] = {
            "roc_auc": round(float(roc_auc_score(yy, ss)), 4),
            "pr_auc": round(float(average_precision_score(yy, ss)), 4),
            "recall_at_1pct_fpr": round(recall_at_fpr(yy, ss, max_fpr)[0], 4),
        }
    return out


def label_relation(
    labels: DataFrame, windows: DataFrame, invert: bool, max_rows: int = 2_000_000, seed: int = 0
) -> dict[str, Any] | None:
    """How the zero-label score and the click-rate rule rank the windows' labels, when present.

    ``invert`` scores against ``label == 0`` (TalkingData: a click that led to no download),
    because there the label marks the benign outcome. ``None`` when no window carries a label.
    """
    joined = labels.join(
        windows.where("label IS NOT NULL").select("window_id", "date", "label"),
        ["window_id", "date"],
    ).select("zero_label_score", click_rate().alias("click_rate"), "label")
    n = joined.count()
    if n == 0:
        return None
    if n > max_rows:  # a bounded sample: the driver holds three numbers per window
        joined = joined.sample(fraction=max_rows / n, seed=seed)
    pdf = joined.toPandas()
    y = pdf["label"].to_numpy(dtype=np.int64)
    if invert:
        y = 1 - y
    scores = {
        "zero_label": pdf["zero_label_score"].to_numpy(dtype=np.float64),
        "click_rate": pdf["click_rate"].to_numpy(dtype=np.float64),
    }
    rel = relation(y, scores, positive="label == 0" if invert else "label == 1")
    rel["sampled"] = n > max_rows
    return rel


def score_histogram(labels: DataFrame, path: Path, threshold: float | None, bins: int = 60) -> Path:
    """Histogram of the zero-label scores (log counts), the alert threshold marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lo, hi = labels.agg(F.min("zero_label_score"), F.max("zero_label_score")).first()
    lo, hi = float(lo or 0.0), float(hi or 1.0)
    width = (hi - lo) / bins or 1.0
    counts = dict(
        labels.select(
            F.least(F.floor((F.col("zero_label_score") - lo) / width), F.lit(bins - 1)).alias("b")
        )
        .groupBy("b")
        .count()
        .collect()
    )
    edges = lo + width * np.arange(bins + 1)
    heights = [counts.get(float(i), counts.get(i, 0)) for i in range(bins)]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.bar(edges[:-1], heights, width=width, align="edge", color="#4c72b0")
    ax.set_yscale("log")
    if threshold is not None:
        ax.axvline(threshold, color="#c44e52", linestyle="--", label=f"threshold {threshold:.3g}")
        ax.legend()
    ax.set_xlabel("zero-label score (higher = more anomalous)")
    ax.set_ylabel("windows (log)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def markdown(report: Mapping[str, Any]) -> str:
    """The report as Markdown: summary, label relation, and the top sessions table."""
    lines = [
        f"# Label-free run: {report['source']} {report['dates'][0]} .. {report['dates'][-1]}",
        "",
        f"- windows scored: {report['windows_scored']:,}; flagged by the alert budget "
        f"({report['alert_rate']:.2%}): {report['flagged']:,} at threshold "
        f"{report['threshold']:.4g}",
        f"- model: {report['model']}",
        f"- histogram: `{Path(report['histogram']).name}`",
        "",
    ]
    rel = report.get("label_relation")
    if rel:
        lines += [
            f"## Score against the labels (positive: {rel['positive']}; "
            f"{rel['positives']:,} of {rel['n']:,} windows)",
            "",
            "| score | ROC-AUC | PR-AUC | recall @ 1% FPR |",
            "|---|---|---|---|",
        ]
        for name in ("zero_label", "click_rate"):
            m = rel[name]
            lines.append(f"| {name} | {m['roc_auc']} | {m['pr_auc']} | {m['recall_at_1pct_fpr']} |")
        lines.append("")
    lines += [
        "## Most anomalous sessions",
        "",
        "| # | session | user | date | score | events | events/min | reason |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, s in enumerate(report["top_sessions"], 1):
        reason = (s["reason_text"] or "(not explained: not flagged or over the cap)").replace(
            "|", "/"
        )
        lines.append(
            f"| {i} | {s['session_id'][:12]} | {s['user_id'][:12]} | {s['date']} | "
            f"{s['zero_label_score']} | {s['n_events']} | {s['events_per_minute']} | {reason} |"
        )
    return "\n".join(lines) + "\n"


def write(report: dict[str, Any], out_dir: Path) -> list[Path]:
    """``report.json`` and ``report.md`` under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    j = out_dir / "report.json"
    j.write_text(json.dumps(report, indent=2, default=str))
    m = out_dir / "report.md"
    m.write_text(markdown(report))
    return [j, m]
