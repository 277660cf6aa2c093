"""Model registry faults and a killed scoring run: a clear error naming the model, alias and
cause, a non-zero exit, and nothing written; a SIGKILLed score job's rerun equals a clean run.

The scoring job runs through its entry point (``jobs/score.py``'s ``main``) in this process for
the registry faults (the exit code and stderr a scheduler sees), and as a subprocess for the kill.
"""

from __future__ import annotations

import re
import runpy
import shutil
import signal
from pathlib import Path

import pytest
from reliability_kit import (
    REPO,
    checksums,
    day_rows,
    delta_version,
    job_cmd,
    kill_mid_write,
    register_untrained,
    run_in_process,
    run_job,
    settings_for,
    table_path,
    write_conf,
    write_day,
)

from ubsd.io.window_arrays import load_windows
from ubsd.runs import RunContext, run_dates

A, B = "2026-11-01", "2026-11-02"
NAME = "ubsd-reliability"
OVERRIDES = ("model.size=tiny", f"mlflow.registered_model={NAME}")


@pytest.fixture(scope="module")
def world(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("registry")
    write_day(root, A, day_rows(A, 3000, "a", users=40))
    write_day(root, B, day_rows(B, 3000, "b", users=40))
    settings = settings_for(root, *OVERRIDES)
    for job in ("ingest", "sessionize"):
        run_in_process(spark, job, settings, start=A, end=B)
    windows = load_windows(
        spark,
        table_path(settings, "windows"),
        "delta",
        settings.sessionize.window_length,
        run_dates(start=A, end=B),
    )
    version = register_untrained(settings, windows, champion=True)
    return {"root": root, "settings": settings, "windows": windows, "version": version}


def _score_main(settings, *args: str) -> int:
    main = runpy.run_path(str(REPO / "jobs" / "score.py"))["main"]
    base = ["--set", f"storage.root={settings.storage.root}", "--set", "spark.shuffle_partitions=2"]
    base += [f"--set={o}" for o in (*OVERRIDES, "ingest.max_quarantine_rate=1.0")]
    return main([*base, *args])


def _labels_version(spark, settings) -> int | None:
    return delta_version(spark, table_path(settings, "fraud_labels"))


def _fault(spark, world, capsys, record, case: str, expect: str, *args: str) -> None:
    settings = world["settings"]
    before = _labels_version(spark, settings)
    rc = _score_main(settings, "--date", A, *args)
    err = capsys.readouterr().err
    assert rc == 1, err
    assert NAME in err and re.search(expect, err), err
    assert _labels_version(spark, settings) == before, "a failed run wrote labels"
    record(
        f"registry_{case}",
        "fault",
        outcome=f"exit 1, nothing written: {err.strip().splitlines()[-1][:160]}",
    )


def test_no_champion(spark, world, capsys, record):
    _fault(spark, world, capsys, record, "no_champion", "@nightly", "--alias", "nightly")


def test_feature_spec_mismatch(spark, world, capsys, record):
    settings = world["settings"]
    other = settings.sessionize.model_copy(update={"window_length": 32, "window_stride": 16})
    version = register_untrained(settings, world["windows"], spec_settings=other)
    args = ("--model-version", version)
    _fault(spark, world, capsys, record, "feature_spec_mismatch", "feature spec", *args)


def _model_dir(settings, version: str) -> Path:
    from ubsd.registry.resolve import resolve

    local = resolve(settings, version=version).local_dir
    assert Path(settings.storage.root) in local.parents, "expected the local store itself"
    return local


def test_corrupt_then_deleted_weights_then_deleted_artifact(spark, world, capsys, record):
    settings, version = world["settings"], world["version"]
    weights = _model_dir(settings, version) / "network" / "model.safetensors"
    good = weights.read_bytes()
    try:
        weights.write_bytes(b"\x00" * 64)
        _fault(spark, world, capsys, record, "corrupt_weights", "cannot load weights")
        weights.unlink()
        _fault(spark, world, capsys, record, "deleted_weights", "missing weights")
        art = weights.parents[1]
        shutil.move(art, art.with_name("moved"))
        try:
            _fault(spark, world, capsys, record, "deleted_artifact", "artifact|download")
        finally:
            shutil.move(art.with_name("moved"), art)
    finally:
        weights.write_bytes(good)


def test_tracking_server_down_at_start(spark, world, capsys, record, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://svc:hunter2@127.0.0.1:9")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")
    settings = world["settings"]
    before = _labels_version(spark, settings)
    rc = _score_main(settings, "--date", A)
    err = capsys.readouterr().err
    assert rc == 1 and NAME in err and "127.0.0.1" in err, err
    assert "hunter2" not in err, "credentials leaked into the error"
    assert _labels_version(spark, settings) == before
    record(
        "registry_server_down",
        "fault",
        outcome=f"exit 1, credentials redacted, nothing written: {err.strip()[-160:]}",
    )


@pytest.mark.slow
def test_sigkill_score_mid_write_then_rerun(spark, world, record):
    settings = world["settings"]
    ctx = RunContext("score", run_dates(start=A, end=B))
    from ubsd.scoring.job import run_scoring

    run_scoring(spark, settings, ctx)
    labels = table_path(settings, "fraud_labels")
    before = checksums(spark, labels)
    version = delta_version(spark, labels)
    extra = f"model:\n  size: tiny\nmlflow:\n  registered_model: {NAME}\n"
    conf = write_conf(world["root"], extra=extra)
    kill = kill_mid_write(job_cmd("score", conf, "--date", B), Path(labels), B)
    assert kill["killed"] and kill["returncode"] == -signal.SIGKILL, kill
    if not kill["committed"]:
        assert delta_version(spark, labels) == version
        assert checksums(spark, labels) == before, "the killed run changed the labels"
    proc = run_job("score", conf, "--date", B)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rerun = checksums(spark, labels)
    run_scoring(spark, settings, RunContext("score", run_dates(date=B)))  # a clean run
    clean = checksums(spark, labels)
    assert rerun == clean and rerun[A] == before[A]
    record(
        "sigkill_score_mid_write",
        "fault",
        outcome=f"SIGKILL {kill['after_s']} s after start, {kill['orphan_files']} uncommitted "
        f"part file(s), committed={kill['committed']}: labels {B} kept its old rows, {A} "
        f"untouched; rerun == clean run ({rerun[B][0]} rows)",
        kill=kill,
    )
