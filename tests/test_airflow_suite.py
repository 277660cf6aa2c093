"""The Airflow tests (tests/airflow) run from the main suite with Airflow's own interpreter.

Airflow lives in ``.venv-airflow`` (scripts/setup.sh), apart from the job environment; its tests
cannot be imported here, so this module runs them as a subprocess and fails with their output.
"""

from __future__ import annotations

import importlib
import os
import subprocess
from pathlib import Path

import pytest

from ubsd.config import StorageSettings
from ubsd.spark import delta_package

REPO = Path(__file__).resolve().parents[1]
AIRFLOW_PYTHON = REPO / os.environ.get("UBSD_AIRFLOW_VENV", ".venv-airflow") / "bin" / "python"


def _airflow_pytest(marker: str) -> None:
    if not AIRFLOW_PYTHON.exists():
        if os.environ.get("UBSD_SKIP_AIRFLOW") == "1":
            pytest.skip("UBSD_SKIP_AIRFLOW=1: the Airflow environment was not installed")
        pytest.fail(f"{AIRFLOW_PYTHON} is missing: run scripts/setup.sh (or make setup)")
    proc = subprocess.run(
        [str(AIRFLOW_PYTHON), "-m", "pytest", "tests/airflow", "-m", marker, "-q"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    tail = (proc.stdout + proc.stderr)[-6000:]
    print(tail)
    assert proc.returncode == 0, f"tests/airflow (-m '{marker}') failed:\n{tail}"


def test_airflow_suite():
    """DagBag, task graph, parse time, output checks, and the one-day nightly end to end."""
    _airflow_pytest("not slow")


@pytest.mark.slow
def test_airflow_suite_slow():
    """Two nightly runs, a rerun and the weekly DAG over both days."""
    _airflow_pytest("slow")


def test_dag_defaults_match_the_job_environment(monkeypatch):
    """The DAGs cannot import ubsd; the constants they copy must match it."""
    monkeypatch.syspath_prepend(str(REPO / "airflow_dags"))
    settings = importlib.import_module("ubsd_airflow.settings")  # imports no Airflow at the top
    assert delta_package() == settings.DELTA_PACKAGE
    storage = StorageSettings()
    assert (storage.root, storage.runs_dir) == (settings.DEFAULT_ROOT, settings.DEFAULT_RUNS_DIR)
