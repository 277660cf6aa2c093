"""The evaluation report: every method on the same split, one table, curves, leave-one-type-out.

Protocol per method (a factory returning a fresh :class:`~ubsd.detectors.base.Detector`):
``fit(train, train labels, validation=(validation, labels))`` (unsupervised methods ignore the
labels), ``calibrate`` on validation for the target precision (the stored ``threshold_``), then
``score`` the test side once. Metrics (:mod:`ubsd.evaluation.metrics`) are computed on test only.

Leave-one-fraud-type-out (:func:`leave_one_type_out`): for each fraud type, its positive windows
are removed from the labelled training and validation data, supervised methods are refitted, and
each method's recall on that type's test windows at the FPR budget is reported beside its recall
when the type was seen. Unsupervised methods never use labels, so their scores from the main run
are reused (unlabeled traffic may contain the type, as it would in production).

:func:`write_report` writes ``<name>.json``, ``<name>.md`` and PNGs (ROC, PR, score histograms)
under ``<out>/<name>/``; the caller logs those files to MLflow.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ubsd.detectors.base import Detector
from ubsd.evaluation.metrics import fpr_key, score_metrics
from ubsd.io.window_arrays import WindowArrays
from ubsd.training.splits import Split

DetectorFactory = Callable[[], Detector]
Log = Callable[[str], None]

#: Issue targets, checked in the Markdown when the named methods are present.
TARGET_DETECTOR_PR_AUC = 0.95
TARGET_PER_TYPE_MARGIN = 0.02
TARGET_ZERO_LABEL_ROC_AUC = 0.90
TOO_EASY_RULES_PR_AUC = 0.90
DETECTOR_METHODS = ("transformer_full", "transformer_lora")
ZERO_LABEL_METHOD = "zero_label"


def _labels(w: WindowArrays) -> np.ndarray:
    lab = w.labels
    if lab is None:
        raise ValueError("evaluation needs labelled windows (label column without nulls)")
    return lab


def fit_and_score(
    factory: DetectorFactory,
    train: WindowArrays,
    validation: WindowArrays,
    test: WindowArrays,
    target_precision: float,
) -> tuple[Detector, np.ndarray, dict[str, float]]:
    """Fit on train (validation for early stopping), calibrate on validation, score test."""
    det = factory()
    t0 = time.perf_counter()
    det.fit(train, _labels(train), validation=(validation, _labels(validation)))
    t1 = time.perf_counter()
    det.calibrate(validation, _labels(validation), target_precision=target_precision)
    t2 = time.perf_counter()
    scores = np.asarray(det.score(test), dtype=np.float64)
    t3 = time.perf_counter()
    seconds = {
        "fit": round(t1 - t0, 2),
        "calibrate": round(t2 - t1, 2),
        "score_test": round(t3 - t2, 2),
        "test_windows_per_s": round(test.n / max(t3 - t2, 1e-9), 1),
    }
    return det, scores, seconds


def evaluate(
    factories: Mapping[str, DetectorFactory],
    split: Split,
    target_precision: float = 0.9,
    max_fpr: float = 0.01,
    log: Log = print,
) -> dict[str, Any]:
    """Run every method on ``split``; ``methods`` holds each one's test metrics.

    The returned dict also holds ``_fitted`` (name -> (detector, test scores)) for
    :func:`leave_one_type_out` and :func:`write_report`; it is dropped from the JSON.
    """
    y_test = _labels(split.test)
    types = split.test.fraud_types
    methods: dict[str, Any] = {}
    fitted: dict[str, tuple[Detector, np.ndarray]] = {}
    for name, factory in factories.items():
        log(f"{name}: fit on {split.train.n:,} windows, test on {split.test.n:,}")
        det, scores, seconds = fit_and_score(
            factory, split.train, split.validation, split.test, target_precision
        )
        m = score_metrics(y_test, scores, det.threshold_, types, max_fpr)
        m["supervised"] = bool(det.supervised)
        m["seconds"] = seconds
        m["detector"] = _jsonable(det.describe())
        methods[name] = m
        fitted[name] = (det, scores)
        log(
            f"{name}: ROC-AUC {m['roc_auc']}  PR-AUC {m['pr_auc']}  F1 {m['f1']}  "
            f"{fpr_key(max_fpr)} {m[fpr_key(max_fpr)]}  ({seconds['fit']} s fit)"
        )
    return {
        "target_precision": target_precision,
        "max_fpr": max_fpr,
        "methods": methods,
        "_fitted": fitted,
        "_test_labels": y_test,
    }


def _without_type(w: WindowArrays, fraud_type: str) -> WindowArrays:
    lab = _labels(w)
    drop = (lab == 1) & (w.fraud_types.astype(str) == fraud_type)
    return w.take(np.flatnonzero(~drop))


def leave_one_type_out(
    factories: Mapping[str, DetectorFactory],
    split: Split,
    target_precision: float = 0.9,
    max_fpr: float = 0.01,
    fitted: Mapping[str, tuple[Detector, np.ndarray]] | None = None,
    fraud_types: list[str] | None = None,
    log: Log = print,
) -> dict[str, Any]:
    """Per held-out fraud type and method: recall on that type at ``max_fpr`` (see module doc).

    Refits a method when it is supervised (or has no main-run result in ``fitted``).
    """
    key = fpr_key(max_fpr)
    y_test = _labels(split.test)
    test_types = split.test.fraud_types.astype(str)
    if fraud_types is None:
        fraud_types = sorted(set(test_types[y_test == 1]))
    fitted = dict(fitted or {})
    out: dict[str, Any] = {}
    for ft in fraud_types:
        train = _without_type(split.train, ft)
        validation = _without_type(split.validation, ft)
        is_t = (y_test == 1) & (test_types == ft)
        keep = (y_test == 0) | is_t
        row: dict[str, Any] = {"test_windows_of_type": int(is_t.sum())}
        for name, factory in factories.items():
            prior = fitted.get(name)
            if prior is None:
                prior = fit_and_score(
                    factory, split.train, split.validation, split.test, target_precision
                )[:2]
                fitted[name] = prior
            seen = score_metrics(y_test[keep], prior[1][keep], None, None, max_fpr)[key]
            if prior[0].supervised:
                log(f"leave out {ft}: refit {name} ({train.n:,} training windows)")
                _, scores, _ = fit_and_score(
                    factory, train, validation, split.test, target_precision
                )
                held = score_metrics(y_test[keep], scores[keep], None, None, max_fpr)[key]
                refit = True
            else:
                held, refit = seen, False
            row[name] = {"held_out": held, "seen": seen, "refit": refit}
        out[ft] = row
    return {"max_fpr": max_fpr, "metric": key, "types": out}


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v


# -- output -----------------------------------------------------------------------------------
def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def _secs(v: Any) -> str:
    return "–" if v is None else f"{float(v):.1f}"


def markdown(result: Mapping[str, Any]) -> str:
    """The report as Markdown: main table, per-type recall, leave-one-type-out, split, checks."""
    methods: dict[str, Any] = result["methods"]
    key = fpr_key(result.get("max_fpr", 0.01))
    pct = key.removeprefix("recall_at_").removesuffix("_fpr").replace("pct", " %")
    lines = [f"# Evaluation report{' — ' + result['title'] if result.get('title') else ''}", ""]
    data = result.get("data")
    if data:
        lines += [
            f"Data: generator profile `{data.get('profile')}` v{data.get('profile_version')}, "
            f"{data.get('events', 0):,} events, {data.get('windows', 0):,} windows, "
            f"dates {data['dates'][0]} .. {data['dates'][-1]}.",
            "",
        ]
    sides = result.get("split", {}).get("sides")
    if sides:
        t = sides["test"]
        lines += [
            f"Test side: {t['windows']:,} windows, {t['positive_windows']:,} fraud "
            f"({100 * t['positive_share']:.2f} %), {t['users']:,} users; every number below is "
            "on it. Thresholds were chosen on the validation side for target precision "
            f"{result.get('target_precision')}.",
            "",
        ]
    lines += [
        f"| method | ROC-AUC | PR-AUC | F1 | precision | recall | recall @ {pct} FPR | fit s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, m in methods.items():
        lines.append(
            f"| {name} | {_fmt(m['roc_auc'])} | {_fmt(m['pr_auc'])} | {_fmt(m['f1'])} | "
            f"{_fmt(m['precision'])} | {_fmt(m['recall'])} | {_fmt(m[key])} | "
            f"{_secs(m.get('seconds', {}).get('fit'))} |"
        )
    types = sorted({t for m in methods.values() for t in m.get("per_type", {})})
    if types:
        for title, field in (
            (f"Recall per fraud type at {pct} FPR", key),
            ("Recall per fraud type at the stored threshold", "recall_at_threshold"),
        ):
            lines += ["", f"## {title}", ""]
            counts = next(iter(methods.values())).get("per_type", {})
            head = " | ".join(f"{t} (n={counts.get(t, {}).get('n', 0)})" for t in types)
            lines += [f"| method | {head} |", "|---|" + "---|" * len(types)]
            for name, m in methods.items():
                pt = m.get("per_type", {})
                cells = " | ".join(_fmt(pt.get(t, {}).get(field)) for t in types)
                lines.append(f"| {name} | {cells} |")
    loto = result.get("leave_one_type_out")
    if loto:
        names = list(methods)
        lines += [
            "",
            f"## Leave one fraud type out (recall on the held-out type at {pct} FPR)",
            "",
            "Each row: that type's positives removed from labelled training and validation "
            "data; supervised methods refitted. Cell: held-out recall (recall when seen). "
            "Unsupervised methods never see labels, so both are the same.",
            "",
            f"| held-out type (test n) | {' | '.join(names)} |",
            "|---|" + "---|" * len(names),
        ]
        for ft, row in loto["types"].items():
            cells = " | ".join(
                f"{_fmt(row[n]['held_out'])} ({_fmt(row[n]['seen'])})" if n in row else "–"
                for n in names
            )
            lines.append(f"| {ft} ({row['test_windows_of_type']}) | {cells} |")
    lines += ["", "## Checks against the issue's targets", "", *_checks(result, key)]
    split = result.get("split")
    if split:
        lines += ["", "## Split and counting", "", split.get("rule", ""), ""]
        lines += [
            f"Training dates {', '.join(split['train_dates'])}; evaluation dates "
            f"{', '.join(split['eval_dates'])}; user fractions validation "
            f"{split['validation_user_fraction']}, test {split['test_user_fraction']}.",
            "",
            "| side | windows | fraud windows | users | sessions |",
            "|---|---|---|---|---|",
        ]
        for side, c in split["sides"].items():
            lines.append(
                f"| {side} | {c['windows']:,} | {c['positive_windows']:,} | {c['users']:,} | "
                f"{c['sessions'] or 0:,} |"
            )
        lines.append(f"| dropped | {split['windows']['dropped']:,} | | | |")
        ov = split["user_overlap"]
        lines += [
            "",
            f"Users shared: train/test {ov['train_test']}, train/validation "
            f"{ov['train_validation']}, validation/test {ov['validation_test']}.",
        ]
        dup = split.get("duplicates") or {}
        if dup:
            lines += [
                "",
                "Duplicated windows (identical model inputs): "
                + "; ".join(
                    f"{side}: {d['repeated_within']:,} repeats within"
                    + (
                        f", {d['also_in_train']:,} also in train "
                        f"({d['positives_also_in_train']} fraud, "
                        f"{d['also_in_train_with_other_label']} with the opposite label there)"
                        if "also_in_train" in d
                        else ""
                    )
                    for side, d in dup.items()
                )
                + ". They are kept and counted (removing them would change the traffic mix).",
            ]
    if result.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {n}" for n in result["notes"]]
    return "\n".join(lines) + "\n"


def _checks(result: Mapping[str, Any], key: str) -> list[str]:
    methods = result["methods"]
    out: list[str] = []
    rules = methods.get("rules")
    if rules and rules["pr_auc"] is not None:
        easy = rules["pr_auc"] >= TOO_EASY_RULES_PR_AUC
        out.append(
            f"- Benchmark hardness: rules PR-AUC {rules['pr_auc']:.3f} "
            + (
                f">= {TOO_EASY_RULES_PR_AUC}: **too easy**, targets are not meaningful here."
                if easy
                else f"< {TOO_EASY_RULES_PR_AUC}: hard enough to be meaningful."
            )
        )
    baselines = [n for n in methods if n not in (*DETECTOR_METHODS, ZERO_LABEL_METHOD)]
    for det in DETECTOR_METHODS:
        m = methods.get(det)
        if not m:
            continue
        ok = m["pr_auc"] is not None and m["pr_auc"] >= TARGET_DETECTOR_PR_AUC
        out.append(
            f"- {det}: PR-AUC {_fmt(m['pr_auc'])} (target >= {TARGET_DETECTOR_PR_AUC}: "
            f"{'met' if ok else 'not met'})"
        )
        worse = []
        for ft, pt in m.get("per_type", {}).items():
            best = max(
                (methods[b]["per_type"].get(ft, {}).get(key) or 0.0 for b in baselines),
                default=0.0,
            )
            mine = pt.get(key) or 0.0
            if mine < best - TARGET_PER_TYPE_MARGIN:
                worse.append(f"{ft} {mine:.3f} vs {best:.3f}")
        out.append(
            f"- {det}: per type within {TARGET_PER_TYPE_MARGIN} of the best baseline "
            f"({key}): " + ("met" if not worse else "not met: " + ", ".join(worse))
        )
    z = methods.get(ZERO_LABEL_METHOD)
    if z:
        ok = z["roc_auc"] is not None and z["roc_auc"] >= TARGET_ZERO_LABEL_ROC_AUC
        out.append(
            f"- zero_label: ROC-AUC {_fmt(z['roc_auc'])} (target >= "
            f"{TARGET_ZERO_LABEL_ROC_AUC}: {'met' if ok else 'not met'})"
        )
    if not any(n in methods for n in (*DETECTOR_METHODS, ZERO_LABEL_METHOD)):
        out.append("- The transformer methods are not in this run (baselines only).")
    return out


def plot_curves(
    scores: Mapping[str, np.ndarray], labels: np.ndarray, out_dir: Path, prefix: str = ""
) -> list[Path]:
    """ROC and PR curves (all methods) and score histograms (one panel per method) as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve, roc_curve

    out_dir.mkdir(parents=True, exist_ok=True)
    y = np.asarray(labels).astype(int)
    paths: list[Path] = []

    fig, ax = plt.subplots(figsize=(6, 5))
    for name, s in scores.items():
        fpr, tpr, _ = roc_curve(y, s)
        ax.plot(fpr, tpr, label=name)
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set(xscale="log", xlim=(1e-3, 1), xlabel="false-positive rate (log)", ylabel="recall")
    ax.axvline(0.01, color="grey", lw=0.8, ls="--")
    ax.set_title("ROC (test side)")
    ax.legend(fontsize=8)
    paths.append(out_dir / f"{prefix}roc.png")
    fig.savefig(paths[-1], dpi=110, bbox_inches="tight")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 5))
    for name, s in scores.items():
        p, r, _ = precision_recall_curve(y, s)
        ax.plot(r, p, label=name)
    ax.axhline(y.mean(), color="k", ls=":", lw=0.8, label="base rate")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
    ax.set_title("Precision-recall (test side)")
    ax.legend(fontsize=8)
    paths.append(out_dir / f"{prefix}pr.png")
    fig.savefig(paths[-1], dpi=110, bbox_inches="tight")
    plt.close(fig)

    n = len(scores)
    cols = min(3, max(n, 1))
    rows = int(np.ceil(n / cols)) or 1
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, (name, s) in zip(axes.ravel(), scores.items(), strict=False):
        bins = np.histogram_bin_edges(s, bins=50)
        ax.hist(s[y == 0], bins=bins, alpha=0.6, label="normal", density=True)
        ax.hist(s[y == 1], bins=bins, alpha=0.6, label="fraud", density=True)
        ax.set_yscale("log")
        ax.set_title(name, fontsize=9)
        ax.legend(fontsize=7)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    fig.suptitle("Score histograms (test side, density, log scale)")
    paths.append(out_dir / f"{prefix}score_histograms.png")
    fig.savefig(paths[-1], dpi=110, bbox_inches="tight")
    plt.close(fig)
    return paths


def write_report(result: dict[str, Any], out_dir: str | Path, name: str = "eval") -> list[Path]:
    """Write ``<name>.json``, ``<name>.md`` and ``<name>/*.png``; returns the paths written.

    Private keys (``_fitted``, ``_test_labels``) feed the plots and are left out of the JSON.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    fitted = result.get("_fitted")
    y = result.get("_test_labels")
    if fitted and y is not None:
        scores = {n: np.asarray(s) for n, (_, s) in fitted.items()}
        paths += plot_curves(scores, y, out / name)
        result = {**result, "plots": [str(p.relative_to(out)) for p in paths]}
    public = _jsonable({k: v for k, v in result.items() if not k.startswith("_")})
    jpath = out / f"{name}.json"
    jpath.write_text(json.dumps(public, indent=2, sort_keys=False) + "\n")
    mpath = out / f"{name}.md"
    mpath.write_text(markdown(public))
    return [jpath, mpath, *paths]
