"""Metrics agree with sklearn and with hand-made cases; the report writes what it promises."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve
from test_detectors import make_windows

from ubsd.detectors.base import Detector
from ubsd.detectors.gbt import GBTDetector
from ubsd.detectors.rules import RulesDetector
from ubsd.evaluation.methods import BASELINES, METHODS, make
from ubsd.evaluation.metrics import fpr_key, recall_at_fpr, score_metrics, threshold_at_fpr
from ubsd.evaluation.report import evaluate, leave_one_type_out, markdown, write_report
from ubsd.training.splits import split_windows


def test_auc_metrics_equal_sklearn():
    rng = np.random.default_rng(0)
    y = (rng.random(500) < 0.1).astype(int)
    s = rng.normal(size=500) + y * 1.2
    s[::7] = np.round(s[::7], 1)  # some ties
    m = score_metrics(y, s, threshold=0.5)
    assert m["roc_auc"] == round(roc_auc_score(y, s), 4)
    assert m["pr_auc"] == round(average_precision_score(y, s), 4)


def test_threshold_metrics_on_a_hand_made_case():
    y = np.array([0, 0, 0, 0, 1, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.9, 0.8, 0.95, 0.4])
    m = score_metrics(y, s, threshold=0.8)
    # flagged: 0.9 (neg), 0.8 (pos), 0.95 (pos) -> precision 2/3, recall 2/3
    assert (m["precision"], m["recall"], m["f1"], m["alerts"]) == (0.6667, 0.6667, 0.6667, 3)
    assert m["fpr_at_threshold"] == 0.25


def test_recall_at_1pct_fpr_on_a_hand_made_case():
    # 200 negatives at 0.000..0.199, 4 positives; 1 % of 200 = 2 negatives may be flagged.
    neg = np.arange(200) / 1000
    y = np.r_[np.zeros(200, int), np.ones(4, int)]
    s = np.r_[neg, [0.5, 0.198, 0.197, 0.01]]
    rec, t = recall_at_fpr(y, s, 0.01)
    assert t == pytest.approx(0.198)  # flags 0.199 and 0.198 (2 negatives) and 2 positives
    assert rec == 0.5


def test_recall_at_fpr_never_splits_ties():
    y = np.r_[np.zeros(100, int), np.ones(10, int)]
    s = np.r_[np.ones(5), np.zeros(95), np.ones(10)]  # 5 negatives tie with every positive
    rec, t = recall_at_fpr(y, s, 0.01)
    assert rec == 0.0 and t == float("inf")
    assert recall_at_fpr(y, s, 0.05)[0] == 1.0


@pytest.mark.parametrize("seed", range(5))
def test_recall_at_fpr_matches_sklearn_roc_curve(seed):
    rng = np.random.default_rng(seed)
    y = (rng.random(3000) < 0.05).astype(int)
    s = np.round(rng.normal(size=3000) + 2 * y, 2)  # many ties
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    assert recall_at_fpr(y, s, 0.01)[0] == pytest.approx(tpr[fpr <= 0.01].max())
    assert threshold_at_fpr(y, s, 0.01) <= s[y == 1].max()


def test_per_type_recall_uses_one_threshold_for_all_types():
    y = np.r_[np.zeros(100, int), np.ones(4, int)]
    s = np.r_[np.arange(100) / 100, [2.0, 2.0, 0.995, 0.2]]
    types = np.array([None] * 100 + ["a", "a", "b", "b"], dtype=object)
    m = score_metrics(y, s, threshold=1.0, fraud_types=types)
    key = fpr_key(0.01)
    assert m["per_type"]["a"] == {"n": 2, "recall_at_threshold": 1.0, key: 1.0}
    assert m["per_type"]["b"] == {"n": 2, "recall_at_threshold": 0.0, key: 0.5}


def test_metrics_refuse_bad_scores():
    with pytest.raises(ValueError, match="NaN"):
        score_metrics(np.array([0, 1]), np.array([0.1, np.nan]), None)


def test_every_baseline_is_registered():
    assert set(BASELINES) == {"rules", "isolation_forest", "gbt", "deeplog"}
    assert set(BASELINES) <= set(METHODS)
    for name in BASELINES:
        assert isinstance(make(name), Detector)
    with pytest.raises(KeyError, match="known"):
        make("nope")


@pytest.fixture(scope="module")
def split():
    rng = np.random.default_rng(0)
    n_normal, n_bot = 900, 60
    n = n_normal + n_bot
    days = [dt.date(2026, 11, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 4, n)]
    users = [f"u{k}" for k in rng.integers(0, 150, n_normal)] + [
        f"bot{k}" for k in rng.integers(0, 30, n_bot)
    ]
    w = make_windows(n_normal, n_bot, seed=5, users=users, dates=days)
    # Two fraud types: relabel half of the bots as scrapers (same behaviour is enough here).
    ft = w.meta["fraud_type"].copy()
    ft[n_normal + n_bot // 2 :] = "scraper"
    w.meta["fraud_type"] = ft
    return split_windows(w, train_date_fraction=0.5, validation_user_fraction=0.25)


FACTORIES = {"rules": RulesDetector, "gbt": lambda: GBTDetector(max_iter=40)}


def test_report_writes_json_markdown_and_plots(split, tmp_path):
    result = evaluate(FACTORIES, split, target_precision=0.9, log=lambda _: None)
    result["leave_one_type_out"] = leave_one_type_out(
        FACTORIES, split, fitted=result["_fitted"], log=lambda _: None
    )
    result["split"] = split.summary
    paths = write_report(result, tmp_path, "eval")
    names = {p.name for p in paths}
    assert {"eval.json", "eval.md", "roc.png", "pr.png", "score_histograms.png"} <= names
    assert all(p.stat().st_size > 0 for p in paths)
    body = json.loads((tmp_path / "eval.json").read_text())
    for name in FACTORIES:
        m = body["methods"][name]
        for key in ("roc_auc", "pr_auc", "f1", "recall_at_1pct_fpr", "per_type", "threshold"):
            assert key in m, key
        assert set(m["per_type"]) == {"click_bot", "scraper"}
        assert m["roc_auc"] > 0.9  # obvious bots
    loto = body["leave_one_type_out"]["types"]
    assert set(loto) == {"click_bot", "scraper"}
    assert loto["scraper"]["gbt"]["refit"] and not loto["scraper"]["rules"]["refit"]
    assert loto["scraper"]["rules"]["held_out"] == loto["scraper"]["rules"]["seen"]
    md = (tmp_path / "eval.md").read_text()
    assert "| method | ROC-AUC | PR-AUC |" in md and "Leave one fraud type out" in md
    assert "_fitted" not in body and body["plots"]


def test_markdown_flags_a_too_easy_benchmark():
    m = {"roc_auc": 0.99, "pr_auc": 0.95, "f1": 0.9, "precision": 0.9, "recall": 0.9}
    m["recall_at_1pct_fpr"] = 0.9
    md = markdown({"methods": {"rules": m}, "max_fpr": 0.01})
    assert "too easy" in md
    m2 = {**m, "pr_auc": 0.3}
    assert "hard enough" in markdown({"methods": {"rules": m2}, "max_fpr": 0.01})
