"""The library shipped as a built artifact: `make dist` output through a real spark-submit.

The job runs under an interpreter that has every dependency but *not* ubsd (the project's
editable install is left out), as on a cluster whose image lacks the checkout: it can only work
if the zip passed with ``--py-files`` reaches the driver and the Python workers (ingest hashes
ip and device ids in a pandas UDF, which the workers import from ``ubsd``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from helpers import event, write_jsonl

from ubsd.spark import delta_package

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
D = "2026-11-01"


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The artifacts, built by the script behind `make dist`."""
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        ["bash", "scripts/build_dist.sh", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def _python_without_ubsd(folder: Path) -> Path:
    """A venv that sees the job environment's packages but not its editable ubsd install.

    A ``.pth`` line adds the job venv's site-packages to ``sys.path``; ``.pth`` files inside it
    (among them ubsd's editable finder) are not processed that way.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    site = folder / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    (site / "site-packages" / "job-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return folder / "bin" / "python"


def test_dist_builds_wheel_and_zip_with_the_whole_package(dist):
    version = next(dist.glob("ubsd-*-py3-none-any.whl")).name.split("-")[1]
    names = set(zipfile.ZipFile(dist / f"ubsd-{version}.zip").namelist())
    expected = {
        str(p.relative_to(REPO))
        for p in (REPO / "ubsd").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert expected <= names, sorted(expected - names)[:5]
    assert "ubsd/py.typed" in names
    assert not any(n.startswith(("tests/", "jobs/", "airflow_dags/")) for n in names)
    assert (dist / f"ubsd-{version}.tar.gz").is_file()


def test_ingest_job_runs_from_the_zip_under_spark_submit(dist, tmp_path):
    python = _python_without_ubsd(tmp_path / "venv")
    probe = subprocess.run(
        [str(python), "-c", "import ubsd"], cwd=tmp_path, capture_output=True, text=True
    )
    assert probe.returncode == 1 and "No module named 'ubsd'" in probe.stderr
    rows = [
        event(f"e{i}", f"u{i % 2}", f"{D}T10:0{i}:00Z", ip=f"10.0.0.{i}", device_id=f"dev{i}")
        for i in range(6)
    ]
    write_jsonl(tmp_path / "raw" / f"date={D}" / "part.jsonl", [*rows, "{not json"])
    conf = tmp_path / "conf.yaml"
    conf.write_text(
        f"storage:\n  root: {tmp_path}\n"
        "spark:\n  shuffle_partitions: 2\n"
        "ingest:\n  allow_dev_hash_key: true\n"
    )
    env = {
        **os.environ,
        "PYSPARK_PYTHON": str(python),
        "PYSPARK_DRIVER_PYTHON": str(python),
        "SPARK_HOME": str(Path(sysconfig.get_paths()["purelib"]) / "pyspark"),
    }
    proc = subprocess.run(
        [
            str(BIN / "spark-submit"),
            "--master",
            "local[2]",
            "--packages",
            delta_package(),
            "--py-files",
            str(next(dist.glob("ubsd-*.zip"))),
            str(REPO / "jobs" / "ingest.py"),
            "--conf-file",
            str(conf),
            "--date",
            D,
        ],
        cwd=tmp_path,  # not the checkout: nothing of ubsd on the path but the artifact
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    latest = tmp_path / "runs" / "ingest" / D / "latest.json"
    summary = json.loads(latest.read_text())
    assert summary["status"] == "ok" and summary["job"] == "ingest"
    assert "UBSD_HASH_SECRET" not in latest.read_text()
    assert (summary["rows_read"], summary["accepted"], summary["quarantined"]) == (7, 6, 1)
    assert summary["accepted_per_date"] == {D: 6}


def test_cluster_config_is_a_valid_worked_example():
    """conf/cluster.yaml loads (unknown keys are errors) and keeps cluster-only rules."""
    from ubsd.config import load_config
    from ubsd.spark import session_conf

    cfg = load_config(REPO / "conf" / "cluster.yaml")
    assert cfg.spark.master is None and cfg.storage.root.startswith("s3a://")
    assert not cfg.ingest.allow_dev_hash_key and cfg.storage.format == "delta"
    conf = session_conf(cfg.spark, cfg.storage.format)
    assert "spark.master" not in conf  # spark-submit decides
    assert conf["spark.executor.memory"] == "12g"
    assert conf["spark.sql.execution.arrow.pyspark.enabled"] == "true"
    assert conf["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    # GPU amounts apply to the scoring/training submits only, never to every job
    assert not any(".resource.gpu." in key for key in conf)
    assert "UBSD_HASH_SECRET" not in str(conf)
    assert cfg.mlflow.tracking_uri_env == "MLFLOW_TRACKING_URI"
    assert cfg.mlflow.artifact_location.startswith("s3://")
