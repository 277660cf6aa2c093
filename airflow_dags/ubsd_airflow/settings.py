"""Where the jobs, their config and their outputs are: read when a task runs, never at parse time.

Every value comes from an Airflow Variable (set in the UI, a secrets backend, or as
``AIRFLOW_VAR_<NAME>`` in the environment), else a local default that works in a checkout where
``make setup`` ran (docs/airflow.md has the table).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Delta Lake's jar for the job environment's delta-spark (tests/test_airflow_suite.py keeps the
#: two in step). Override with the Variable ``ubsd_spark_packages``.
DELTA_PACKAGE = "io.delta:delta-spark_4.2_2.13:4.4.0"
#: ubsd's own defaults for storage.root and storage.runs_dir (kept in step by the same test).
DEFAULT_ROOT = "./data"
DEFAULT_RUNS_DIR = "runs"

_URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def is_uri(path: str) -> bool:
    """True for object-store roots such as ``s3a://bucket/ubsd``."""
    return bool(_URI.match(path))


def default_home() -> Path:
    """The checkout that holds jobs/ and conf/: $UBSD_HOME, else the folder above the DAGs."""
    return Path(os.environ.get("UBSD_HOME") or Path(__file__).resolve().parents[2])


def variable(name: str, default: str) -> str:
    """Airflow Variable ``name`` (UI, secrets backend or ``AIRFLOW_VAR_NAME``), else ``default``."""
    from airflow.sdk import Variable

    return Variable.get(name, default=default)


def _json_variable(name: str) -> dict[str, str]:
    raw = variable(name, "{}") or "{}"
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError(f"Variable {name} must be a JSON object, got {raw!r}")
    return {str(k): str(v) for k, v in value.items()}


@dataclass(frozen=True)
class RunSettings:
    """Everything a Spark task or a check needs, resolved once per task."""

    home: Path
    conf_file: Path
    root: str
    runs_dir: str
    job_venv: Path | None
    py_files: str
    packages: str
    spark_conf: dict[str, str] = field(default_factory=dict)
    gpu_conf: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    min_rows: int = 1
    freshness_tolerance_s: int = 120

    def job(self, name: str) -> str:
        return str(self.home / "jobs" / f"{name}.py")

    def summary_path(self, job: str, label: str) -> Path:
        """Where the job writes ``latest.json`` (ubsd.runs.write_summary)."""
        base = Path(self.runs_dir) if is_uri(self.root) else Path(self.root) / self.runs_dir
        return base / job / label / "latest.json"

    def spark_env(self) -> dict[str, str]:
        """Environment of spark-submit: the job venv's Spark and Python, plus ``ubsd_env``."""
        env: dict[str, str] = {}
        if self.job_venv is not None:
            python = str(self.job_venv / "bin" / "python")
            env = {
                "PATH": f"{self.job_venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
                "PYSPARK_PYTHON": python,
                "PYSPARK_DRIVER_PYTHON": python,
            }
            homes = sorted(self.job_venv.glob("lib/python3*/site-packages/pyspark"))
            if homes:
                env["SPARK_HOME"] = str(homes[-1])
        return {**env, **self.env}


def resolve() -> RunSettings:
    """Read Variables, environment and the job config file (storage root and runs folder)."""
    import yaml

    home = Path(variable("ubsd_home", str(default_home())))
    conf_file = Path(variable("ubsd_conf_file", "conf/local.yaml"))
    if not conf_file.is_absolute():
        conf_file = home / conf_file
    loaded: dict[str, Any] = {}
    if conf_file.is_file():
        loaded = yaml.safe_load(conf_file.read_text(encoding="utf-8")) or {}
    storage = loaded.get("storage") or {}
    root = variable("ubsd_storage_root", "") or str(storage.get("root") or DEFAULT_ROOT)
    if not is_uri(root) and not Path(root).expanduser().is_absolute():
        root = str((home / root).resolve())  # the job's cwd is the worker's, not the checkout
    venv_raw = variable("ubsd_job_venv", str(home / ".venv"))
    job_venv = Path(venv_raw) if venv_raw and (Path(venv_raw) / "bin").is_dir() else None
    py_files = variable("ubsd_py_files", "")
    if py_files and not is_uri(py_files) and not Path(py_files).is_absolute():
        py_files = str(home / py_files)
    return RunSettings(
        home=home,
        conf_file=conf_file,
        root=root,
        runs_dir=str(storage.get("runs_dir") or DEFAULT_RUNS_DIR),
        job_venv=job_venv,
        py_files=py_files,
        packages=variable("ubsd_spark_packages", DELTA_PACKAGE),
        spark_conf=_json_variable("ubsd_spark_conf"),
        gpu_conf=_json_variable("ubsd_gpu_spark_conf"),
        env=_json_variable("ubsd_env"),
        min_rows=int(variable("ubsd_min_rows", "1")),
        freshness_tolerance_s=int(variable("ubsd_freshness_tolerance_s", "120")),
    )
