"""Jobs as users run them: spark-submit / python entry points, exit codes, run summaries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from helpers import event, write_jsonl

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
D = "2026-11-01"


def _conf(tmp_path: Path) -> Path:
    f = tmp_path / "conf.yaml"
    f.write_text(
        f"storage:\n  root: {tmp_path}\n"
        "spark:\n  shuffle_partitions: 2\n"
        "ingest:\n  allow_dev_hash_key: true\n"
    )
    return f


def _run(cmd: list[str], cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_spark_submit_without_delta_jars_or_input_fails_clearly(tmp_path):
    write_jsonl(
        tmp_path / "raw" / f"date={D}" / "a.jsonl",
        [*[event(f"e{i}", "u1", f"{D}T10:0{i}:00Z") for i in range(5)], "{broken"],
    )
    conf = _conf(tmp_path)
    args = ["jobs/ingest.py", "--conf-file", str(conf), "--date", D]
    submit = [str(BIN / "spark-submit"), "--master", "local[2]"]
    proc = _run([*submit, *args])  # without Delta's jars: a clear error, nothing written
    # (spark-submit merges the Python driver's stderr into its stdout)
    assert proc.returncode == 1 and "--packages io.delta:delta-spark" in proc.stdout
    assert not (tmp_path / "tables").exists()
    # The successful spark-submit run (with Delta's package and the library shipped as the
    # --py-files zip) is tests/test_packaging.py::test_ingest_job_runs_from_the_zip_under_...

    # A date without input: non-zero exit, the reason on stderr and in the summary.
    proc = _run(
        [sys.executable, "jobs/ingest.py", "--conf-file", str(conf), "--date", "2026-11-05"]
    )
    assert proc.returncode == 1
    assert "no input for 2026-11-05" in proc.stderr
    failed = json.loads((tmp_path / "runs" / "ingest" / "2026-11-05" / "latest.json").read_text())
    assert failed["status"] == "failed" and "no input" in failed["error"]


def test_bad_arguments_exit_2_before_spark_starts(tmp_path):
    conf = _conf(tmp_path)
    proc = _run([sys.executable, "jobs/sessionize.py", "--conf-file", str(conf), "--date", "11/01"])
    assert proc.returncode == 2 and "--date must be a date" in proc.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("sessionize:\n  windw_length: 3\n")
    proc = _run([sys.executable, "jobs/sessionize.py", "--conf-file", str(bad), "--date", D])
    assert proc.returncode == 2 and "windw_length" in proc.stderr


def test_a_job_that_returns_records_status_ok_and_one_that_raises_failed(spark, tmp_path):
    """Schedulers' checks read ``status`` from every summary, whatever the job returned."""
    from ubsd.cli import run_job

    def fine(_spark, _settings, _ctx):
        return {"rows": 3}

    def broken(_spark, _settings, _ctx):
        raise RuntimeError("boom")

    args = ["--conf-file", str(_conf(tmp_path)), "--date", D]
    assert run_job("fine", fine, "a job", argv=args) == 0
    assert run_job("broken", broken, "a job", argv=args) == 1
    ok = json.loads((tmp_path / "runs" / "fine" / D / "latest.json").read_text())
    bad = json.loads((tmp_path / "runs" / "broken" / D / "latest.json").read_text())
    assert (ok["status"], ok["rows"]) == ("ok", 3)
    assert bad["status"] == "failed" and bad["error"] == "RuntimeError: boom"
