"""Config: defaults, YAML and CLI overrides, unknown keys refused, paths kept under the root."""

from __future__ import annotations

from pathlib import Path

import pytest

from ubsd.config import ConfigError, load_config
from ubsd.io.paths import UnsafePathError, resolve_under
from ubsd.spark import session_conf

CONF = Path(__file__).resolve().parents[1] / "conf"


def test_shipped_configs_load():
    local = load_config(CONF / "local.yaml")
    assert local.spark.master == "local[2]" and local.storage.format == "delta"
    cluster = load_config(CONF / "cluster.yaml")
    assert cluster.spark.master is None and not cluster.ingest.allow_dev_hash_key


def test_yaml_then_cli_override(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("sessionize:\n  gap_minutes: 10\n  window_length: 32\n")
    cfg = load_config(f, ["sessionize.gap_minutes=15", "storage.format=parquet"])
    assert cfg.sessionize.gap_minutes == 15 and cfg.sessionize.window_length == 32
    assert cfg.storage.format == "parquet"


@pytest.mark.parametrize(
    ("text", "override", "message"),
    [
        ("sessionize:\n  gap_minute: 10\n", [], "gap_minute"),
        ("colour: blue\n", [], "colour"),
        ("", ["ingest.nope=1"], "nope"),
        ("", ["storage.format=orc"], "format"),
        ("", ["sessionize.window_stride=100"], "window_stride must not exceed"),
        ("- a list\n", [], "top level must be a mapping"),
    ],
)
def test_invalid_config_is_an_error(tmp_path, text, override, message):
    f = tmp_path / "c.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(f, override)


def test_yaml_is_never_evaluated(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("env: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(Exception, match=r"could not determine a constructor|python/object"):
        load_config(f)


def test_paths_cannot_escape_the_root(tmp_path):
    root = str(tmp_path)
    assert resolve_under(root, "tables/x") == str(tmp_path / "tables" / "x")
    for bad in ("../x", "/etc/passwd", "tables/../../x"):
        with pytest.raises(UnsafePathError):
            resolve_under(root, bad)
    assert resolve_under("s3a://lake/ubsd", "tables/w") == "s3a://lake/ubsd/tables/w"
    with pytest.raises(UnsafePathError):
        resolve_under("s3a://lake/ubsd", "../other")
    with pytest.raises(UnsafePathError):
        resolve_under("s3a://lake/ubsd", "s3a://other/bucket")


def test_local_session_settings_sized_for_small_machines():
    cfg = load_config(CONF / "local.yaml")
    conf = session_conf(cfg.spark, "delta")
    assert conf["spark.sql.session.timeZone"] == "UTC"
    assert conf["spark.sql.adaptive.enabled"] == "true"
    assert conf["spark.sql.shuffle.partitions"] == "4"
    assert conf["spark.jars.packages"].startswith("io.delta:delta-spark_")
    cluster = session_conf(load_config(CONF / "cluster.yaml").spark, "delta")
    assert "spark.master" not in cluster  # spark-submit decides
    assert cluster["spark.sql.shuffle.partitions"] == "800"  # from cluster.yaml, not local sizing
    assert "spark.executor.resource.gpu.amount" not in session_conf(cfg.spark, "parquet")


def test_run_summary_goes_local_when_the_root_is_remote(tmp_path, monkeypatch):
    import datetime as dt
    import json

    from ubsd.runs import RunContext, write_summary

    monkeypatch.chdir(tmp_path)
    ctx = RunContext("ingest", [dt.date(2026, 11, 1)])
    path = write_summary("s3a://lake/ubsd", "runs", ctx, {"rows_read": 3})
    assert path.startswith(str(tmp_path)) and json.loads(Path(path).read_text())["rows_read"] == 3
