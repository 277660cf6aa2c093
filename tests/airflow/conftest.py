"""Airflow test set-up: a throwaway AIRFLOW_HOME with a sqlite metadata DB, the repo's DAGs.

This folder needs Airflow, which lives in its own venv (``.venv-airflow``). Under the job venv
(the main suite) nothing here is collected; tests/test_airflow_suite.py runs it with the Airflow
venv's interpreter instead.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "airflow_dags"
JOB_VENV = Path(os.environ.get("UBSD_JOB_VENV", REPO / ".venv"))

if importlib.util.find_spec("airflow") is None:
    collect_ignore_glob = ["*"]
else:
    _home = tempfile.mkdtemp(prefix="ubsd-airflow-home-")
    atexit.register(shutil.rmtree, _home, ignore_errors=True)
    os.environ.update(
        {
            "AIRFLOW_HOME": _home,
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_home}/airflow.db",
            "UBSD_RETRIES": "0",  # a failing test must not wait for retry back-off
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "true",
        }
    )
    sys.path.insert(0, str(DAGS))  # Airflow adds the DAG bundle's folder the same way

    import pytest

    @pytest.fixture(scope="session")
    def airflow_db() -> str:
        """A migrated sqlite metadata database (about 3 s)."""
        proc = subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        return os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]

    @pytest.fixture(scope="session")
    def dagbag():
        from airflow.dag_processing.dagbag import DagBag

        return DagBag(dag_folder=str(DAGS))
