"""Nightly scoring end to end: real Spark, Delta, MLflow (sqlite) and a tiny registered model.

One tiny model is trained once per module on hand-made windows (tests/window_factory.py),
registered as version 1 (champion) and, without its classifier, as version 2 (zero-label
alerts only). The windows table gets one scored day of shoppers, click bots and "spliced"
windows (a shopper whose second half is a bot burst).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import make_settings
from window_factory import BOT_TYPE, make_windows

from ubsd.io.paths import resolve_under
from ubsd.io.schemas import (
    FRAUD_LABELS_SCHEMA,
    KNOWN_EVENT_TYPES,
    RUN_METADATA_COLUMNS,
    USER_DAILY_SCHEMA,
    WINDOW_FEATURE_ARRAYS,
    WINDOWS_SCHEMA,
)
from ubsd.io.tables import read_table, write_dates
from ubsd.io.window_arrays import WindowArrays
from ubsd.runs import RunContext
from ubsd.scoring import ScoringError, run_scoring
from ubsd.sessionize.spec import feature_spec

D = dt.date(2026, 11, 2)  # the scored day
D_OK = dt.date(2026, 11, 3)  # valid windows, used by the failure cases (must stay unwritten)
D_BAD = dt.date(2026, 11, 4)  # windows with another feature spec
L = 16
BURST = 8  # spliced windows: events BURST.. are the bot's
STEPS = [
    "model.size=tiny",
    f"sessionize.window_length={L}",
    "sessionize.window_stride=8",
    "training.batch_size=32",
    "training.max_pretrain_steps=20",
    "training.max_finetune_steps=40",
    "training.eval_every=20",
    "training.patience=3",
    "training.target_precision=0.8",
    "scoring.batch_size=64",
    "scoring.arrow_batch_size=128",
    "scoring.explain_top_k=3",
]


def splice(w: WindowArrays, bots: WindowArrays, at: int) -> WindowArrays:
    """Shopper windows whose events ``at..`` are replaced by a bot's (full-length windows)."""
    feats = {}
    for k, v in w.features.items():
        out = v.copy()
        if k == "mask":
            out[:] = 1
        else:
            # The bot's first L - at events (bots have at least L // 2 real events).
            out[:, at:] = bots.features[k][:, : out.shape[1] - at]
            if (out[:, :at] == 0).any():  # shoppers shorter than L: fill their padding
                out[:, :at] = np.where(out[:, :at] == 0, 2, out[:, :at])
        feats[k] = out
    return WindowArrays(features=feats, meta={k: np.asarray(v) for k, v in w.meta.items()})


def raw_columns(w: WindowArrays) -> dict[str, list]:
    """Plausible raw arrays for generated windows: event type names, item ids, seconds."""
    types = ["unknown", "unknown", *KNOWN_EVENT_TYPES]
    et, items, dtb, mask = (
        w.features[k] for k in ("event_type_ids", "item_buckets", "dt_buckets", "mask")
    )
    secs = np.where(dtb > 1, np.exp2((dtb - 2) / 2.0) - 1.0, 0.0)
    out: dict[str, list] = {"event_types": [], "item_ids": [], "dt_seconds": [], "event_ids": []}
    for i in range(w.n):
        n = int(mask[i].sum())
        out["event_types"].append([types[t] for t in et[i, :n]] + [None] * (L - n))
        out["item_ids"].append([f"item{b}" for b in items[i, :n]] + [None] * (L - n))
        out["dt_seconds"].append([float(s) for s in secs[i, :n]] + [0.0] * (L - n))
        out["event_ids"].append(
            [f"{w.meta['window_id'][i]}-{j}" for j in range(n)] + [None] * (L - n)
        )
    return out


def write_windows(spark, settings, w: WindowArrays, day: dt.date, feature_version: str) -> None:
    """Write generated windows into the windows table (WINDOWS_SCHEMA), as sessionize would."""
    n = w.n
    start = pd.Timestamp(day) + pd.to_timedelta(np.arange(n), unit="s")
    pdf = pd.DataFrame(
        {
            "window_id": [f"{day}-{x}" for x in w.meta["window_id"]],
            "user_id": list(w.meta["user_id"]),
            "session_id": [f"s-{x}" for x in w.meta["user_id"]],
            "window_index": np.zeros(n, np.int32),
            "start_ts": start,
            "end_ts": start + pd.Timedelta(minutes=5),
            "n_events": w.mask.sum(1).astype(np.int32),
            **{k: list(v) for k, v in raw_columns(w).items()},
            **{k: list(w.features[k].astype(np.int32)) for k in (*WINDOW_FEATURE_ARRAYS, "mask")},
            "label": np.asarray(w.meta["label"], dtype=np.int32),
            "fraud_type": list(w.meta["fraud_type"]),
            "feature_version": feature_version,
            "date": day,
            "run_id": "test",
            "processed_at": pd.Timestamp("2026-11-05"),
        }
    )
    df = spark.createDataFrame(pdf[WINDOWS_SCHEMA.fieldNames()], WINDOWS_SCHEMA)
    path = resolve_under(settings.storage.root, settings.storage.windows_table)
    write_dates(df, path, [day], settings.storage.format, WINDOWS_SCHEMA)


@pytest.fixture(scope="module")
def world(spark, tmp_path_factory):
    import mlflow

    from ubsd.registry.publish import log_and_register
    from ubsd.training.trainer import TrainSource, pretrained_encoder, train_model

    torch.set_num_threads(2)
    settings = make_settings(tmp_path_factory.mktemp("scoring"), *STEPS)
    spec = feature_spec(settings.sessionize)
    train = make_windows(spec, 300, 30, seed=1)
    val = make_windows(spec, 120, 12, seed=2, user_prefix="v")
    pre = pretrained_encoder(TrainSource(L, windows=train), val, settings, spec, progress=False)
    model = train_model(
        TrainSource(L, windows=train), val, settings, spec, progress=False, pretrained=pre
    ).model
    v1 = log_and_register(settings, model, {"test": "scoring"}, {})
    unlabelled = dataclasses.replace(model, has_classifier=False, threshold=None)
    v2 = log_and_register(settings, unlabelled, {"test": "scoring-unlabelled"}, {})
    client = mlflow.MlflowClient()
    client.set_registered_model_alias(v1.name, "champion", v1.version)

    day = make_windows(spec, 160, 20, seed=3, day=D, user_prefix="d")
    shoppers = make_windows(spec, 12, 0, seed=4, user_prefix="sp")
    bots = make_windows(spec, 0, 12, seed=5, user_prefix="sb")
    spliced = splice(shoppers, bots, BURST)
    spliced.meta["window_id"] = np.array([f"spliced{i}" for i in range(12)], dtype=object)
    spliced.meta["label"] = np.ones(12, dtype=object)
    spliced.meta["fraud_type"] = np.array(["click_bot"] * 12, dtype=object)
    write_windows(spark, settings, WindowArrays.concat([day, spliced]), D, spec.version)
    write_windows(spark, settings, make_windows(spec, 20, 2, seed=6, day=D_OK), D_OK, spec.version)
    write_windows(spark, settings, make_windows(spec, 10, 2, seed=7, day=D_BAD), D_BAD, "fs1-other")
    summary = run_scoring(spark, settings, RunContext("score", [D]))
    # Later tests rescore D; the first run's output is kept here for the read-only tests.
    daily = _table(spark, settings, "user_daily_table", USER_DAILY_SCHEMA).toPandas()
    return {
        "rows": _rows(spark, settings),
        "daily": daily,
        "settings": settings,
        "model": model,
        "v1": v1,
        "v2": v2,
        "spliced": spliced,
        "summary": summary,
        "n_day": day.n + spliced.n,
    }


def _table(spark, settings, key, schema, day=D):
    path = resolve_under(settings.storage.root, getattr(settings.storage, key))
    return read_table(spark, path, settings.storage.format, schema, [day])


def _rows(spark, settings, day=D):
    df = _table(spark, settings, "fraud_labels_table", FRAUD_LABELS_SCHEMA, day)
    return df.toPandas().sort_values("window_id").reset_index(drop=True)


def test_counts_reconcile_and_threshold_is_applied(spark, world):
    s, settings, model = world["summary"], world["settings"], world["model"]
    assert s["rows_in"] == s["rows_scored"] == world["n_day"] and s["reconciled"]
    rows = world["rows"]
    assert len(rows) == world["n_day"] and rows["window_id"].is_unique
    assert (rows["model_version"] == world["v1"].version).all()
    assert (rows["alert_source"] == "probability").all()
    assert np.allclose(rows["threshold"], model.threshold)
    assert (rows["is_fraud"] == (rows["fraud_probability"] >= model.threshold)).all()
    assert rows["zero_label_score"].notna().all()
    assert s["flagged"] == int(rows["is_fraud"].sum()) > 0
    assert s["flagged_rate"] == pytest.approx(s["flagged"] / s["rows_in"], abs=1e-6)
    # The job's probabilities are the model's own, computed in one process.
    w = read_table(
        spark,
        resolve_under(settings.storage.root, settings.storage.windows_table),
        "delta",
        WINDOWS_SCHEMA,
        [D],
    ).toPandas()
    w = w.sort_values("window_id").reset_index(drop=True)
    feats = {k: np.stack(w[k].to_numpy()) for k in (*WINDOW_FEATURE_ARRAYS, "mask")}
    prob, zl = model.score_arrays(feats)
    np.testing.assert_allclose(rows["fraud_probability"], prob, atol=1e-5)
    np.testing.assert_allclose(rows["zero_label_score"], zl, rtol=1e-4, atol=1e-4)
    # Clicks bots are caught: most labelled windows flagged, few shoppers.
    by_label = rows.assign(label=w["label"]).groupby("label")["is_fraud"].mean()
    assert by_label[1] > 0.8 and by_label[0] < 0.1
    # Per-user rollup.
    daily = world["daily"]
    assert len(daily) == rows["user_id"].nunique() == s["users"]
    assert daily["windows"].sum() == len(rows)
    assert daily["flagged_windows"].sum() == s["flagged"]
    flagged_users = daily[daily["flagged_windows"] > 0]
    assert flagged_users["top_reason"].notna().all()


def test_every_flagged_window_has_reasons(world):
    rows = world["rows"]
    flagged = rows[rows["is_fraud"]]
    assert world["summary"]["explained"] == len(flagged)
    assert flagged["reason_text"].notna().all()
    for reasons, n in zip(flagged["reasons"], flagged["n_events"], strict=True):
        assert len(reasons) == min(3, n)
        assert all(0 <= r["event_index"] < n for r in reasons)
        contrib = [r["contribution"] for r in reasons]
        assert contrib == sorted(contrib, reverse=True)
    assert rows[~rows["is_fraud"]]["reasons"].isna().all()


def test_reasons_of_spliced_click_bot_windows_point_at_the_burst(world):
    from ubsd.scoring.reasons import explain_rows

    settings, model, w = world["settings"], world["model"], world["spliced"]
    cols = {k: list(v) for k, v in w.features.items()}
    raw = raw_columns(w)
    rows = [
        {
            "window_id": w.meta["window_id"][i],
            **{k: cols[k][i] for k in cols},
            **{k: raw[k][i] for k in raw},
        }
        for i in range(w.n)
    ]
    out = explain_rows(model, rows, settings.scoring)
    hits = [all(r["event_index"] >= BURST for r in o["reasons"]) for o in out]
    assert np.mean(hits) >= 0.9, out[:3]
    assert all("purchases on one sponsored item" in o["reason_text"] for o in out), out[0]
    assert all(w.features["event_type_ids"][0, BURST:] == BOT_TYPE)
    # Integrated gradients (few steps) agree on where the bot is.
    ig = settings.scoring.model_copy(update={"explain_method": "integrated_gradients"})
    out = explain_rows(model, rows, ig)
    assert np.mean([all(r["event_index"] >= BURST for r in o["reasons"]) for o in out]) >= 0.9
    # In the job's output too, for the spliced windows it flagged.
    labels = world["rows"]
    mine = labels[labels["window_id"].str.contains("spliced") & labels["is_fraud"]]
    assert len(mine) >= 6
    for reasons in mine["reasons"]:
        assert sum(r["event_index"] >= BURST for r in reasons) >= 2


@pytest.mark.slow  # two scoring runs (one for the version swap): ~1 min unloaded
def test_rerun_gives_identical_rows_and_a_cap_bounds_reasons(spark, world):
    settings = world["settings"]
    before = world["rows"]
    again = run_scoring(spark, settings, RunContext("score", [D]))
    after = _rows(spark, settings)
    assert again["rows_scored"] == len(after) == len(before), "replaced, not appended"
    data = [c for c in before.columns if c not in RUN_METADATA_COLUMNS]
    pd.testing.assert_frame_equal(before[data], after[data])
    assert (after["run_id"] != before["run_id"]).all()

    capped = settings.model_copy(
        update={"scoring": settings.scoring.model_copy(update={"explain_max_windows": 5})}
    )
    s = run_scoring(spark, capped, RunContext("score", [D]))
    rows = _rows(spark, capped)
    explained = rows[rows["reasons"].notna()]
    assert s["explained"] == len(explained) == 5 and explained["is_fraud"].all()
    top5 = rows[rows["is_fraud"]].sort_values(
        ["fraud_probability", "window_id"], ascending=[False, True]
    )
    assert set(explained["window_id"]) == set(top5["window_id"][:5])


@pytest.mark.slow  # one more scoring run and an unlabelled model
def test_another_version_replaces_the_days_rows_unlabelled_model_alerts_on_zero_label(spark, world):
    settings = world["settings"]
    v2 = settings.model_copy(
        update={"scoring": settings.scoring.model_copy(update={"model_version": 2})}
    )
    s = run_scoring(spark, v2, RunContext("score", [D]))
    rows = _rows(spark, settings)
    assert len(rows) == world["n_day"] == s["rows_scored"]
    assert (rows["model_version"] == world["v2"].version).all()
    assert rows["fraud_probability"].isna().all()
    assert (rows["alert_source"] == "zero_label").all()
    zt = world["model"].zero_label_threshold
    assert np.allclose(rows["threshold"], zt)
    assert (rows["is_fraud"] == (rows["zero_label_score"] >= zt)).all()
    assert rows[rows["is_fraud"]]["reasons"].notna().all()
    daily = _table(spark, settings, "user_daily_table", USER_DAILY_SCHEMA).toPandas()
    assert (daily["model_version"] == world["v2"].version).all()


def _logged_model_dir(settings, version: str) -> Path:
    """The model folder in the artifact store (a local store is read in place, not copied)."""
    from ubsd.registry.resolve import resolve

    local = resolve(settings, version=version).local_dir
    assert Path(settings.storage.root) in local.parents, "expected the store itself"
    return local


def _assert_nothing_written(spark, settings, day=D_OK):
    for key, schema in (
        ("fraud_labels_table", FRAUD_LABELS_SCHEMA),
        ("user_daily_table", USER_DAILY_SCHEMA),
    ):
        assert _table(spark, settings, key, schema, day).count() == 0


def test_failures_name_model_alias_and_cause_and_write_nothing(spark, world):
    settings = world["settings"]
    name = settings.mlflow.registered_model
    ctx = RunContext("score", [D_OK])

    no_champion = settings.model_copy(
        update={"scoring": settings.scoring.model_copy(update={"model_alias": "nightly"})}
    )
    with pytest.raises(ScoringError, match=rf"{name}@nightly.*nightly") as e:
        run_scoring(spark, no_champion, ctx)
    assert "nothing written" in str(e.value)
    _assert_nothing_written(spark, settings)

    with pytest.raises(ScoringError, match=rf"{name}@champion.*feature spec 'fs1-other'"):
        run_scoring(spark, settings, RunContext("score", [D_BAD]))
    _assert_nothing_written(spark, settings, D_BAD)

    weights = _logged_model_dir(settings, world["v1"].version) / "network" / "model.safetensors"
    good = weights.read_bytes()
    try:
        weights.write_bytes(b"\x00" * 64)
        with pytest.raises(ScoringError, match=rf"{name}@champion.*cannot load weights"):
            run_scoring(spark, settings, ctx)
        _assert_nothing_written(spark, settings)
        weights.unlink()
        with pytest.raises(ScoringError, match=rf"{name}@champion.*missing weights"):
            run_scoring(spark, settings, ctx)
        _assert_nothing_written(spark, settings)
        art = weights.parents[1]
        shutil.move(art, art.with_name("moved"))
        try:
            with pytest.raises(ScoringError, match=rf"{name}@champion.*(artifact|download)"):
                run_scoring(spark, settings, ctx)
        finally:
            shutil.move(art.with_name("moved"), art)
        _assert_nothing_written(spark, settings)
    finally:
        weights.write_bytes(good)


def test_job_entry_point_exit_code_and_summary(spark, world, capsys):
    import json
    import runpy

    settings = world["settings"]
    main = runpy.run_path(str(Path(__file__).parents[1] / "jobs" / "score.py"))["main"]
    common = ["--date", D_OK.isoformat(), "--set", f"storage.root={settings.storage.root}"]
    common += [f"--set={o}" for o in STEPS] + ["--set", "spark.shuffle_partitions=2"]
    assert main([*common, "--alias", "nightly"]) == 1
    assert "nightly" in capsys.readouterr().err
    _assert_nothing_written(spark, settings)
    assert main([*common, "--model-version", world["v1"].version]) == 0
    latest = Path(settings.storage.root) / "runs" / "score" / D_OK.isoformat() / "latest.json"
    summary = json.loads(latest.read_text())
    assert summary["rows_in"] == summary["rows_scored"] == 22
    assert summary["model"]["version"] == world["v1"].version and summary["mlflow_run_id"]
