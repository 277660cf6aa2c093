"""The label-free run end to end: generated days -> ingest -> sessionize -> pretrain -> scoring
with the zero-label score -> the anomaly report (real Spark, Delta and MLflow on sqlite)."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest
from helpers import TINY_TRAINING, make_settings
from sklearn.metrics import roc_auc_score

from ubsd.io.schemas import FRAUD_LABELS_SCHEMA, WINDOWS_SCHEMA
from ubsd.io.tables import read_table
from ubsd.pipeline.unsupervised import label_is_benign, run_unsupervised
from ubsd.runs import RunContext, run_dates
from ubsd.synth import generate, get_profile, with_overrides

FAST = [
    "storage.labels_path=labels",
    *TINY_TRAINING,
    "training.alert_rate=0.05",
    "evaluation.top_sessions=5",
    "mlflow.registered_model=ubsd-unsupervised",
]


@pytest.fixture(scope="module")
def run(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("unsupervised")
    manifest = generate(with_overrides(get_profile("ci"), {"days": 3}), root, fmt="json")
    settings = make_settings(root, *FAST)
    dates = run_dates(start=manifest.dates[0], end=manifest.dates[-1])
    summary = run_unsupervised(spark, settings, RunContext("unsupervised", dates))
    return settings, dates, summary


def test_every_row_and_window_is_accounted_for(run):
    _, _, s = run
    assert s["rows_read"] == s["accepted"] + s["quarantined"] + s["duplicate"]
    assert s["rows_scored"] == s["windows"] > 0
    assert s["pretrain"]["stopped_because"]


def test_labels_carry_the_zero_label_score_and_no_probability(spark, run):
    settings, dates, s = run
    labels = read_table(
        spark, s["tables"]["fraud_labels"], settings.storage.format, FRAUD_LABELS_SCHEMA, dates
    )
    row = labels.selectExpr(
        "count(*) AS n",
        "count(fraud_probability) AS with_prob",
        "count(zero_label_score) AS with_zl",
        "sum(CAST(is_fraud AS INT)) AS flagged",
        "collect_set(alert_source) AS sources",
        "sum(CAST(is_fraud AND reason_text IS NULL AS INT)) AS unexplained",
    ).first()
    assert row["n"] == s["windows"] and row["with_prob"] == 0 and row["with_zl"] == row["n"]
    assert row["sources"] == ["zero_label"]
    assert row["flagged"] == s["flagged"] and 0 < row["flagged"] <= 0.2 * row["n"]
    assert row["unexplained"] == 0  # the cap (default 1,000 a day) is above this run's alerts


def test_the_pretrained_model_never_becomes_champion(run):
    settings, _, s = run
    client = mlflow.MlflowClient()
    mv = client.get_model_version_by_alias(settings.mlflow.registered_model, "challenger")
    assert str(mv.version) == s["version"]
    with pytest.raises(mlflow.exceptions.MlflowException):
        client.get_model_version_by_alias(settings.mlflow.registered_model, "champion")


def _joined(spark, settings, dates, s):
    labels = read_table(
        spark, s["tables"]["fraud_labels"], settings.storage.format, FRAUD_LABELS_SCHEMA, dates
    )
    windows = read_table(spark, s["tables"]["windows"], settings.storage.format, WINDOWS_SCHEMA)
    pdf = (
        labels.join(windows.select("window_id", "label"), "window_id")
        .selectExpr(
            "label",
            "zero_label_score",
            "n_events * 60.0 / greatest(unix_timestamp(end_ts) - unix_timestamp(start_ts), 1)"
            " AS rate",
        )
        .toPandas()
    )
    return pdf["label"].to_numpy(), pdf["zero_label_score"].to_numpy(), pdf["rate"].to_numpy()


def test_report_ranks_sessions_and_relates_the_score_to_ground_truth(spark, run):
    settings, dates, s = run
    report_json = next(Path(p) for p in s["report"] if p.endswith(".json"))
    report = json.loads(report_json.read_text())
    top = report["top_sessions"]
    assert len(top) == 5 and len({t["session_id"] for t in top}) == 5
    scores = [t["zero_label_score"] for t in top]
    assert scores == sorted(scores, reverse=True)
    assert top[0]["is_fraud"] and top[0]["reason_text"]
    assert Path(report["histogram"]).stat().st_size > 1000
    rel = report["label_relation"]  # generated windows carry ground truth
    assert rel["positive"] == "label == 1" and rel["positives"] > 0
    for name in ("zero_label", "click_rate"):
        assert 0.0 <= rel[name]["roc_auc"] <= 1.0
    # the figures are those of the two tables themselves (quality is the benchmark's business)
    y, zl, rate = _joined(spark, settings, dates, s)
    assert rel["n"] == y.size and rel["positives"] == int(y.sum())
    assert rel["zero_label"]["roc_auc"] == pytest.approx(roc_auc_score(y, zl), abs=1e-4)
    assert rel["click_rate"]["roc_auc"] == pytest.approx(roc_auc_score(y, rate), abs=1e-4)
    md = Path(report_json.with_suffix(".md")).read_text()
    assert "Most anomalous sessions" in md and top[0]["session_id"][:12] in md


def test_talkingdata_scores_against_non_attribution(tmp_path):
    td = make_settings(tmp_path, "source.kind=talkingdata")
    assert label_is_benign(td)
    assert not label_is_benign(
        make_settings(
            tmp_path, "source.kind=talkingdata", "source.talkingdata_label=not_attributed"
        )
    )
    assert not label_is_benign(make_settings(tmp_path))
