"""Monitoring: PSI math, and the monitor job on a normal day, a drifted day and empty days.

The tables are written directly with their schemas (no scorer run): three normal history days,
a normal day and a drifted day (a click-bot wave: higher scores, more flagged windows, ad-click
bursts with constant one-second gaps, full windows, and a quarantine spike). The training
reference lives where production reads it: in the manifest of a registered (untrained, tiny)
model whose version the fraud-labels rows name.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
from helpers import make_settings, write_events
from window_factory import make_windows, untrained_model

from ubsd.io.paths import resolve_under
from ubsd.io.schemas import (
    FRAUD_LABELS_SCHEMA,
    MONITOR_METRICS_SCHEMA,
    QUARANTINE_SCHEMA,
    WINDOW_FEATURE_ARRAYS,
    WINDOWS_SCHEMA,
)
from ubsd.io.tables import read_table, write_dates
from ubsd.monitoring.psi import (
    categorical_psi,
    expected_from_quantiles,
    interior_edges,
    psi,
    shares_by_edges,
)

L = 16
HISTORY = [dt.date(2026, 11, d) for d in (1, 2, 3)]
NORMAL, DRIFTED = dt.date(2026, 11, 4), dt.date(2026, 11, 5)
OVERRIDES = [
    "model.size=tiny",
    f"sessionize.window_length={L}",
    "sessionize.window_stride=8",
    "monitor.trailing_days=3",
    "monitor.min_rows=200",
]
SHOPPER_TYPES = ["search", "view", "click", "add_to_cart"]


# --- PSI math ---------------------------------------------------------------------------------
def test_psi_on_known_inputs():
    assert psi([0.25] * 4, [0.25] * 4) == 0.0
    # (0.6-0.5)ln(1.2) + (0.4-0.5)ln(0.8) = 0.0405465
    assert psi([0.5, 0.5], [0.6, 0.4]) == pytest.approx(0.0405465, abs=1e-6)
    assert psi([50, 50], [60, 40]) == psi([0.5, 0.5], [0.6, 0.4]), "counts are normalised"
    # A vanished bin costs (eps - e) ln(eps / e), large but finite.
    assert psi([0.5, 0.5], [1.0, 0.0]) == pytest.approx(
        0.5 * np.log(2) + (0.5 - 1e-4) * np.log(0.5 / 1e-4), abs=1e-5
    )
    with pytest.raises(ValueError, match="non-empty"):
        psi([0.5, 0.5], [0, 0])
    value, cats = categorical_psi({"view": 3, "click": 1}, {"view": 1, "click": 3})
    assert cats == ["click", "view"]
    assert value == pytest.approx(2 * 0.5 * np.log(3), abs=1e-6)


def test_quantile_bins_with_ties_and_known_shifts():
    # Half the mass tied at 0: one merged bin holding it, the rest uniform.
    qs = [0.0] * 11 + [0.1 * i for i in range(1, 11)]
    assert interior_edges(qs)[:2] == [0.0, 0.1]
    expected = expected_from_quantiles(qs)
    assert expected[0] == pytest.approx(0.5) and sum(expected) == pytest.approx(1.0)
    # A sample of the reference distribution itself is stable; a shifted one is not.
    rng = np.random.default_rng(0)
    ref = rng.normal(0, 1, 200_000)
    qs = np.quantile(ref, np.linspace(0, 1, 21)).tolist()
    edges, expected = interior_edges(qs), expected_from_quantiles(qs)
    same = psi(expected, shares_by_edges(sorted(rng.normal(0, 1, 5000)), edges))
    shifted = psi(expected, shares_by_edges(sorted(rng.normal(0.5, 1, 5000)), edges))
    assert same < 0.02
    # PSI of N(0,1) -> N(mu,1) is about mu^2 (the symmetrised KL divergence): 0.25 here.
    assert 0.2 < shifted < 0.3


# --- the monitor job --------------------------------------------------------------------------
def _scores(rng: np.random.Generator, n: int, bot_share: float) -> tuple[np.ndarray, ...]:
    bot = rng.random(n) < bot_share
    prob = np.where(bot, rng.beta(8, 2, n), rng.beta(0.6, 12, n))
    fraud_like = rng.random(n) < 0.03  # a steady trickle of fraud on normal days
    prob = np.where(fraud_like & ~bot, rng.beta(8, 2, n), prob)
    zl = np.where(bot, rng.lognormal(1.5, 0.3, n), rng.lognormal(0.0, 0.5, n))
    return bot, prob, zl


def _reference() -> dict:
    _, prob, zl = _scores(np.random.default_rng(99), 50_000, 0.0)
    qs = np.linspace(0, 1, 21)
    return {
        "zero_label_quantiles": np.quantile(zl, qs).round(6).tolist(),
        "probability_quantiles": np.quantile(prob, qs).round(6).tolist(),
        "flagged_rate": float((prob >= 0.5).mean()),
    }


def _register_model(settings) -> str:
    """An untrained tiny model carrying a known reference, registered like a trained one."""
    from ubsd.registry.publish import log_and_register
    from ubsd.sessionize.spec import feature_spec

    windows = make_windows(feature_spec(settings.sessionize), 20, 2)
    model = untrained_model(settings, windows, trained_id="monitor-test", reference=_reference())
    return log_and_register(settings, model, params={}, metrics={}).version


def _day_rows(day: dt.date, seed: int, bot_share: float, version: str, n: int = 400):
    rng = np.random.default_rng(seed)
    bot, prob, zl = _scores(rng, n, bot_share)
    windows, labels = [], []
    stamp = dt.datetime(2026, 12, 1)
    for i in range(n):
        k = L if bot[i] else int(rng.integers(6, L + 1))
        types = ["ad_click"] * k if bot[i] else list(rng.choice(SHOPPER_TYPES, k))
        dts = [1.0] * k if bot[i] else rng.exponential(20.0, k).round(3).tolist()
        pad = L - k
        start = dt.datetime.combine(day, dt.time(12)) + dt.timedelta(seconds=i)
        wid, user = f"{day}-w{i}", f"u{i % 50}"
        windows.append(
            {
                "window_id": wid,
                "user_id": user,
                "session_id": f"{day}-s{i}",
                "window_index": 0,
                "start_ts": start,
                "end_ts": start + dt.timedelta(seconds=float(sum(dts))),
                "n_events": k,
                "event_ids": [f"{wid}-e{j}" for j in range(k)] + [None] * pad,
                "event_types": types + [None] * pad,
                "item_ids": [None] * L,
                "dt_seconds": dts + [0.0] * pad,
                **{name: [1] * k + [0] * pad for name in WINDOW_FEATURE_ARRAYS},
                "mask": [1] * k + [0] * pad,
                "label": int(bot[i]),
                "fraud_type": "click_bot" if bot[i] else None,
                "feature_version": "test",
                "date": day,
                "run_id": "test",
                "processed_at": stamp,
            }
        )
        labels.append(
            {
                "user_id": user,
                "window_id": wid,
                "session_id": f"{day}-s{i}",
                "start_ts": start,
                "end_ts": start,
                "n_events": k,
                "fraud_probability": float(prob[i]),
                "zero_label_score": float(zl[i]),
                "is_fraud": bool(prob[i] >= 0.5),
                "threshold": 0.5,
                "alert_source": "probability",
                "model_name": "ubsd-behavior",
                "model_version": version,
                "feature_version": "test",
                "reasons": None,
                "reason_text": None,
                "date": day,
                "run_id": "test",
                "scored_at": stamp,
            }
        )
    return windows, labels


def _write(spark, settings, rel: str, rows: list[dict], schema, dates) -> None:
    path = resolve_under(settings.storage.root, rel)
    write_dates(spark.createDataFrame(rows, schema), path, dates, "delta", schema)


def _ingest_rows(day: dt.date, events: int, quarantined: int):
    ev = [
        {"event_id": f"{day}-{i}", "user_id": "u", "ts": dt.datetime.combine(day, dt.time(9))}
        for i in range(events)
    ]
    q = [
        {
            "reason": "unparseable_timestamp" if i % 3 else "missing_required_field",
            "detail": None,
            "event_id": f"{day}-q{i}",
            "raw": None,
            "source_file": None,
            "date": day,
            "run_id": "test",
            "processed_at": dt.datetime(2026, 12, 1),
        }
        for i in range(quarantined)
    ]
    return ev, q


@pytest.fixture(scope="module")
def world(spark, tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("monitor"), *OVERRIDES)
    version = _register_model(settings)
    plan = [(d, i, 0.0, 3) for i, d in enumerate([*HISTORY, NORMAL])] + [(DRIFTED, 9, 0.4, 60)]
    windows, labels, events, quarantine = [], [], [], []
    for day, seed, bots, bad in plan:
        w, lab = _day_rows(day, seed, bots, version)
        ev, q = _ingest_rows(day, 300, bad)
        windows += w
        labels += lab
        events += ev
        quarantine += q
    dates = [p[0] for p in plan]
    st = settings.storage
    _write(spark, settings, st.windows_table, windows, WINDOWS_SCHEMA, dates)
    _write(spark, settings, st.fraud_labels_table, labels, FRAUD_LABELS_SCHEMA, dates)
    write_events(spark, settings, events)
    _write(spark, settings, st.quarantine_table, quarantine, QUARANTINE_SCHEMA, dates)
    return settings, version


def _monitor(spark, settings, date: dt.date, *extra: str):
    from ubsd.monitoring.job import run_monitor
    from ubsd.runs import RunContext

    if extra:
        settings = make_settings(settings.storage.root, *OVERRIDES, *extra)
    return run_monitor(spark, settings, RunContext("monitor", [date]))


def _table(spark, settings, date: dt.date) -> dict[str, dict]:
    path = resolve_under(settings.storage.root, settings.monitor.metrics_table)
    df = read_table(spark, path, "delta", MONITOR_METRICS_SCHEMA, [date])
    return {r["metric"]: r.asDict() for r in df.collect()}


METRICS = {
    "scored_windows",
    "psi_fraud_probability",
    "psi_zero_label_score",
    "flagged_rate",
    "psi_event_type_mix",
    "psi_inter_event_seconds",
    "psi_window_length",
    "quarantine_rate",
}


def test_monitor_passes_a_normal_day(spark, world):
    settings, version = world
    summary = _monitor(spark, settings, NORMAL)
    assert summary["status"] == "ok" and summary["alerts"] == []
    day = summary["by_date"][NORMAL.isoformat()]
    assert day["model"] == f"ubsd-behavior v{version}"
    assert day["skipped"] == {}, "every metric has data and a reference"
    rows = _table(spark, settings, NORMAL)
    assert set(rows) == METRICS
    assert not any(r["breached"] for r in rows.values())
    for name in METRICS - {"scored_windows", "flagged_rate", "quarantine_rate"}:
        assert rows[name]["value"] < 0.1, (name, rows[name]["detail"])
    assert rows["scored_windows"]["value"] == 400 and rows["scored_windows"]["reference"] == 400
    assert rows["quarantine_rate"]["value"] == pytest.approx(3 / 303)
    assert "trailing day(s) 2026-11-01..2026-11-03" in rows["flagged_rate"]["detail"]
    html = Path(day["report"]["html"]).read_text(encoding="utf-8")
    assert "no alerts" in html and "data:image/png;base64," in html
    # MLflow has the run with the metric values.
    import mlflow

    run = mlflow.get_run(day["mlflow_run"])
    assert run.data.metrics["psi_fraud_probability"] == pytest.approx(
        rows["psi_fraud_probability"]["value"]
    )
    assert run.data.tags["ubsd.date"] == NORMAL.isoformat()


def test_monitor_flags_a_drifted_day_and_the_job_exits_non_zero(spark, world, capsys):
    from ubsd.cli import run_job
    from ubsd.monitoring.job import run_monitor

    settings, _ = world
    sets = [f"storage.root={settings.storage.root}", "spark.shuffle_partitions=2", *OVERRIDES]
    argv = ["--date", DRIFTED.isoformat(), *[a for s in sets for a in ("--set", s)]]
    assert run_job("monitor", run_monitor, "monitor", argv=argv) == 1
    msg = capsys.readouterr().err
    rows = _table(spark, settings, DRIFTED)
    breached = {name for name, r in rows.items() if r["breached"]}
    assert breached == METRICS - {"scored_windows"}, {n: r["detail"] for n, r in rows.items()}
    for name in breached:
        assert f"{name} = " in msg, name  # the message names what drifted ...
    assert rows["psi_fraud_probability"]["value"] > 0.5  # 40 % of windows moved: far past 0.2
    assert f"PSI {rows['psi_fraud_probability']['value']:.4g}" in msg  # ... and by how much
    assert rows["flagged_rate"]["value"] / rows["flagged_rate"]["reference"] > 5
    assert rows["quarantine_rate"]["value"] == pytest.approx(60 / 360)
    assert "unparseable_timestamp 40" in rows["quarantine_rate"]["detail"]
    runs = resolve_under(settings.storage.root, f"runs/monitor/{DRIFTED}/latest.json")
    summary = json.loads(Path(runs).read_text(encoding="utf-8"))
    assert summary["status"] == "failed" and summary["dates"] == [DRIFTED.isoformat()]
    assert len(summary["alerts"]) == len(breached)
    report = summary["by_date"][DRIFTED.isoformat()]["report"]
    html = Path(report["html"]).read_text(encoding="utf-8")
    assert Path(report["png"]).stat().st_size > 10_000
    assert f"{len(breached)} alert(s)" in html and "psi_event_type_mix" in html
    # The normal day's rows are untouched by the drifted day's run.
    assert set(_table(spark, settings, NORMAL)) == METRICS


def test_empty_day_and_missing_reference_are_reported_not_crashes(spark, world):
    from ubsd.monitoring.job import MonitorAlertError

    settings, _ = world
    quiet = "monitor.log_to_mlflow=false"
    empty = dt.date(2026, 11, 20)
    summary = _monitor(spark, settings, empty, quiet)
    assert summary["status"] == "ok"
    skipped = summary["by_date"][empty.isoformat()]["skipped"]
    assert set(skipped) == METRICS - {"scored_windows"}
    assert "no scored windows" in skipped["psi_fraud_probability"]
    assert "no ingest rows" in skipped["quarantine_rate"]
    assert "no events" in skipped["psi_event_type_mix"]
    assert "no reference" in skipped["psi_window_length"]
    with pytest.raises(MonitorAlertError, match="no scored windows"):
        _monitor(spark, settings, empty, quiet, "monitor.empty_day=fail")
    # Labels naming a version the registry does not have: the score PSIs say so and skip.
    lost = dt.date(2026, 11, 21)
    _, labels = _day_rows(lost, 5, 0.0, "999", n=50)
    _write(
        spark, settings, settings.storage.fraud_labels_table, labels, FRAUD_LABELS_SCHEMA, [lost]
    )
    day = _monitor(spark, settings, lost, quiet)["by_date"][lost.isoformat()]
    assert "no training reference" in day["skipped"]["psi_zero_label_score"]
    assert "999" in day["skipped"]["psi_zero_label_score"]
    assert day["metrics"]["scored_windows"] == 50
