"""The one SparkSession factory: every job and test builds its session here, from config.

Local mode gets defaults sized for a small machine (few shuffle partitions, AQE, UTC, Arrow,
Delta extensions, worker reuse). On a cluster (``spark.master: null``) the factory adds only what
ubsd needs and takes the rest from spark-submit.
"""

from __future__ import annotations

import argparse
import os
import sys

from pyspark.sql import SparkSession

from ubsd.config import Settings, SparkSettings, load_config

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"


class SparkStartError(RuntimeError):
    """The SparkSession could not start (typically: the Delta jar could not be resolved)."""


def delta_package() -> str:
    """Maven coordinate of the Delta jar that matches the installed delta-spark."""
    from delta.pip_utils import configure_spark_with_delta_pip

    probe = configure_spark_with_delta_pip(SparkSession.builder)
    return probe._options["spark.jars.packages"]


def session_conf(spark_cfg: SparkSettings, table_format: str) -> dict[str, str]:
    """All settings the factory applies, as a plain dict (tested; also shown in run summaries)."""
    conf: dict[str, str] = {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.adaptive.skewJoin.enabled": "true",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.python.worker.reuse": "true",
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        "spark.ui.showConsoleProgress": "false",
    }
    if spark_cfg.master is not None:
        conf["spark.master"] = spark_cfg.master
        conf["spark.sql.shuffle.partitions"] = str(spark_cfg.shuffle_partitions)
        conf["spark.default.parallelism"] = str(spark_cfg.shuffle_partitions)
        conf["spark.ui.enabled"] = "false"
        # Delta replays its log with 50 partitions by default: minutes of overhead on 2 cores.
        conf["spark.databricks.delta.snapshotPartitions"] = str(spark_cfg.shuffle_partitions)
        if spark_cfg.driver_memory:
            conf["spark.driver.memory"] = spark_cfg.driver_memory
    if table_format == "delta":
        conf["spark.sql.extensions"] = DELTA_EXTENSION
        conf["spark.sql.catalog.spark_catalog"] = DELTA_CATALOG
        conf["spark.jars.packages"] = delta_package()
        if spark_cfg.ivy_dir:
            conf["spark.jars.ivy"] = os.path.expanduser(spark_cfg.ivy_dir)
    conf.update(spark_cfg.conf)
    return conf


def get_spark(settings: Settings, app_name: str | None = None) -> SparkSession:
    """Build (or return the running) SparkSession for these settings."""
    # Python workers must run this interpreter, not the system python3 (no pandas there).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    conf = session_conf(settings.spark, settings.storage.format)
    builder = SparkSession.builder.appName(app_name or settings.spark.app_name)
    for key, value in conf.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # the JVM died before a session existed
        pkg = conf.get("spark.jars.packages")
        hint = (
            f"Could not start Spark with Delta Lake ({pkg}). Under spark-submit, pass "
            f"--packages {pkg}. Otherwise Spark resolves that jar from Maven Central into Ivy's "
            f"cache on first start: check access to the Maven repository (or set "
            f"spark.conf.'spark.jars.repositories'), pre-fetch it with scripts/setup.sh, or "
            f"select storage.format: parquet."
            if pkg
            else "Could not start Spark (is Java 17+ installed and JAVA_HOME set?)."
        )
        raise SparkStartError(f"{hint} Cause: {exc}") from exc
    spark.sparkContext.setLogLevel(settings.spark.log_level)
    if settings.storage.format == "delta":
        _require_delta(spark, conf["spark.jars.packages"])
    return spark


def _require_delta(spark: SparkSession, package: str) -> None:
    """Fail early and clearly when Delta's classes are missing (spark-submit without them)."""
    from py4j.java_gateway import JavaClass

    found = spark._jvm.io.delta.sql.DeltaSparkSessionExtension  # py4j: JavaPackage if missing
    if not isinstance(found, JavaClass):
        raise SparkStartError(
            f"Delta Lake is not on Spark's classpath (class {DELTA_EXTENSION} not found). Under "
            f"spark-submit, pass --packages {package} (or --jars with that jar and its "
            f"dependencies), or select storage.format: parquet."
        )


def _warm(argv: list[str] | None = None) -> int:
    """Start a session once so Ivy caches the Delta jar (called by scripts/setup.sh)."""
    parser = argparse.ArgumentParser(prog="python -m ubsd.spark")
    parser.add_argument("--warm", action="store_true", help="start Spark once, resolve jars")
    parser.add_argument("--conf-file", default=None)
    args = parser.parse_args(argv)
    settings = load_config(args.conf_file)
    spark = get_spark(settings, "ubsd-warm")
    n = spark.range(3).count()
    if settings.storage.format == "delta":
        spark.sql("SELECT 1").collect()
    spark.stop()
    print(f"[setup] Spark {spark.version} started; jars: {delta_package()} ({n} rows ok)")
    return 0


if __name__ == "__main__":
    raise SystemExit(_warm())
