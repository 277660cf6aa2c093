"""Sessionize benchmark: Spark ``run_sessionize`` vs a DuckDB single-node reference.

For each size, ``benchmark-v1`` is generated (``ubsd.synth.scaled``) as Parquet under
``benchmarks/work/`` (reused when its manifest matches), ingested once with ``run_ingest`` into a
Delta events table (timed, not the measured quantity), then:

* **spark**: ``run_sessionize`` over the whole date range, writing the windows Delta table. Each
  measurement is a fresh Python + JVM process (``local[2]``, the project's shuffle partitions);
  ``spark_seconds`` is the wall time of the ``run_sessionize`` call (JVM start excluded, it is
  reported separately). Peak RSS is the process tree (Python driver + JVM + Python workers),
  sampled with psutil every 0.2 s. Spark's event log is kept to break the time down by stage.
* **duckdb**: the same sessions and windows (gap, duration and event-count chunks, L/S windows,
  same keep rule, same session_id/window_id digests, the same per-event features except the two
  xxhash64 buckets) in DuckDB SQL over the events table's active Parquet files (read from the
  Delta log), written to Parquet partitioned by date. Also a fresh process.
* **agree**: sessions, windows, the multiset of (user_id, window_index, n_events), and per
  window_id the event ids, timestamps and every feature array that does not use xxhash64.

Plus a heavy-user run: ``--heavy-base-events`` events plus one user with
``--heavy-user-events`` events in one day, sessionized with the driver capped at 2 GiB.

    python benchmarks/sessionize_bench.py [--sizes 1000000 10000000]
        [--heavy-user-events 1000000] [--out benchmarks/results/sessionize.json]

Results: ``benchmarks/results/sessionize.json`` (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / "work"
RESULTS = HERE / "results" / "sessionize.json"
PROFILE = "benchmark-v1"
SAMPLE_S = 0.2
DEFAULT_PARTITIONS = 4  # replaced by the project's spark.shuffle_partitions in main()


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------
def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _write_json(path: Path, body: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body, indent=2, sort_keys=True, default=str) + "\n")


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def delta_active_files(table: Path) -> list[str]:
    """Data files of the table's current version, replayed from its JSON commits.

    Enough for tables this benchmark writes (a few commits, no checkpoint needed: Delta keeps
    the JSON commits next to any checkpoint).
    """
    log_dir = table / "_delta_log"
    live: dict[str, bool] = {}
    for commit in sorted(log_dir.glob("*.json")):
        for line in commit.read_text().splitlines():
            action = json.loads(line)
            if "add" in action:
                live[action["add"]["path"]] = True
            elif "remove" in action:
                live.pop(action["remove"]["path"], None)
    from urllib.parse import unquote

    return [str(table / unquote(p)) for p in sorted(live)]


def settings_overrides(root: Path, shuffle_partitions: int, driver_memory: str) -> list[str]:
    return [
        f"storage.root={root}",
        "storage.format=delta",
        "storage.input_path=gen/raw/date={date}",
        "ingest.allow_dev_hash_key=true",
        "ingest.input_format=parquet",
        f"spark.shuffle_partitions={shuffle_partitions}",
        f"spark.driver_memory={driver_memory}",
    ]


# --------------------------------------------------------------------------------------------
# process-tree sampler
# --------------------------------------------------------------------------------------------
class TreeSampler:
    """Samples RSS (and CPU time) of a process and all its descendants from a thread."""

    def __init__(self, pid: int, every: float = SAMPLE_S) -> None:
        self.root = psutil.Process(pid)
        self.every = every
        self.samples: list[tuple[float, int, int, int]] = []  # t, total, jvm, python
        self.cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.sys_cpu0 = psutil.cpu_times()

    def start(self) -> TreeSampler:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                break
            total = jvm = py = 0
            for p in procs:
                try:
                    with p.oneshot():
                        rss = p.memory_info().rss
                        name = p.name()
                        ct = p.cpu_times()
                except psutil.Error:
                    continue
                self.cpu[p.pid] = ct.user + ct.system
                total += rss
                if name == "java":
                    jvm += rss
                elif name.startswith("python"):
                    py += rss
            self.samples.append((time.time(), total, jvm, py))
            self._stop.wait(self.every)

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        self._thread.join()
        sys_cpu1 = psutil.cpu_times()
        busy = (sum(sys_cpu1) - sys_cpu1.idle - sys_cpu1.iowait) - (
            sum(self.sys_cpu0) - self.sys_cpu0.idle - self.sys_cpu0.iowait
        )
        ours = sum(self.cpu.values())
        return {"machine_busy_cpu_s": round(busy, 1), "tree_cpu_s": round(ours, 1)}

    def peak(self, t0: float | None = None, t1: float | None = None) -> dict[str, float]:
        rows = [
            s for s in self.samples if (t0 is None or s[0] >= t0) and (t1 is None or s[0] <= t1)
        ]
        if not rows:
            return {}
        mb = 1024 * 1024
        return {
            "peak_rss_mb": round(max(r[1] for r in rows) / mb, 1),
            "peak_jvm_rss_mb": round(max(r[2] for r in rows) / mb, 1),
            "peak_python_rss_mb": round(max(r[3] for r in rows) / mb, 1),
            "samples": len(rows),
        }


def run_worker(kind: str, spec: dict[str, Any], log_path: Path) -> dict[str, Any]:
    """Run one measured step as a fresh subprocess of this script; sample its process tree."""
    spec_path = log_path.with_suffix(".spec.json")
    out_path = log_path.with_suffix(".result.json")
    out_path.unlink(missing_ok=True)
    _write_json(spec_path, spec)
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "_worker",
        kind,
        str(spec_path),
        str(out_path),
    ]
    load0 = _load()
    t_start = time.time()
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        sampler = TreeSampler(proc.pid).start()
        rc = proc.wait()
    cpu = sampler.stop()
    wall = time.time() - t_start
    if rc != 0 or not out_path.exists():
        tail = log_path.read_text(errors="replace").splitlines()[-40:]
        raise RuntimeError(f"{kind} worker failed (rc {rc}); log {log_path}:\n" + "\n".join(tail))
    res = json.loads(out_path.read_text())
    res["process_wall_seconds"] = round(wall, 2)
    res["memory_whole_process"] = sampler.peak()
    if "t_measure" in res:
        res["memory_during_measure"] = sampler.peak(*res["t_measure"])
    res["load_average_before"] = load0
    res["load_average_after"] = _load()
    res["cpu"] = cpu
    res["log"] = str(log_path.relative_to(REPO))
    return res


# --------------------------------------------------------------------------------------------
# workers (run in the subprocess)
# --------------------------------------------------------------------------------------------
def _settings(spec: dict[str, Any], extra_conf: dict[str, str] | None = None):
    from ubsd.config import load_config

    settings = load_config(None, spec["overrides"])
    if extra_conf:
        spark = settings.spark.model_copy(update={"conf": {**settings.spark.conf, **extra_conf}})
        settings = settings.model_copy(update={"spark": spark})
    return settings


def _event_log_conf(spec: dict[str, Any]) -> dict[str, str]:
    """Spark's event log (uncompressed, for stage_breakdown), if the spec asks for one."""
    if not spec.get("event_log_dir"):
        return {}
    event_log = Path(spec["event_log_dir"])
    event_log.mkdir(parents=True, exist_ok=True)
    return {
        "spark.eventLog.enabled": "true",
        "spark.eventLog.dir": event_log.as_uri(),
        "spark.eventLog.compress": "false",
    }


def _dates(spec: dict[str, Any]) -> list[dt.date]:
    return [dt.date.fromisoformat(d) for d in spec["dates"]]


def _driver_memory(spark) -> dict[str, Any]:
    conf = spark.sparkContext.getConf()
    max_heap = spark.sparkContext._jvm.java.lang.Runtime.getRuntime().maxMemory()
    return {
        "spark.driver.memory": conf.get("spark.driver.memory", "1g (Spark default, not set)"),
        "jvm_max_heap_mb": round(max_heap / 1024 / 1024, 1),
        "spark.sql.shuffle.partitions": spark.conf.get("spark.sql.shuffle.partitions"),
    }


def worker_generate(spec: dict[str, Any]) -> dict[str, Any]:
    from ubsd.synth import generate, get_profile, scaled

    profile = scaled(get_profile(spec["profile"]), spec["target_events"])
    t0 = time.perf_counter()
    m = generate(
        profile,
        spec["out_dir"],
        fmt="parquet",
        overrides={"n_users": profile.n_users},
        heavy_user_events=spec["heavy_user_events"],
    )
    return {"seconds": round(time.perf_counter() - t0, 2), "events": m.events}


def worker_ingest(spec: dict[str, Any]) -> dict[str, Any]:
    from ubsd.ingest.job import run_ingest
    from ubsd.runs import RunContext
    from ubsd.spark import get_spark

    settings = _settings(spec, _event_log_conf(spec))
    t0 = time.perf_counter()
    spark = get_spark(settings, "ubsd-bench-ingest")
    startup = time.perf_counter() - t0
    ctx = RunContext("ingest", _dates(spec))
    t1 = time.perf_counter()
    summary = run_ingest(spark, settings, ctx)
    seconds = time.perf_counter() - t1
    info = _driver_memory(spark)
    app_id = spark.sparkContext.applicationId
    spark.stop()
    keep = ("rows_read", "accepted", "quarantined", "duplicate", "filtered", "quarantine_reasons")
    return {
        "seconds": round(seconds, 2),
        "spark_startup_seconds": round(startup, 2),
        "summary": {k: summary[k] for k in keep},
        "app_id": app_id,
        **info,
    }


def worker_sessionize(spec: dict[str, Any]) -> dict[str, Any]:
    from pyspark.sql import functions as F

    from ubsd.io.paths import resolve_under
    from ubsd.runs import RunContext
    from ubsd.sessionize.job import run_sessionize
    from ubsd.spark import get_spark

    settings = _settings(spec, _event_log_conf(spec))
    windows_path = Path(resolve_under(settings.storage.root, settings.storage.windows_table))
    shutil.rmtree(windows_path, ignore_errors=True)  # every measurement writes a fresh table
    t0 = time.perf_counter()
    spark = get_spark(settings, "ubsd-bench-sessionize")
    startup = time.perf_counter() - t0
    ctx = RunContext("sessionize", _dates(spec))
    w0, t1 = time.time(), time.perf_counter()
    summary = run_sessionize(spark, settings, ctx)
    seconds = time.perf_counter() - t1
    w1 = time.time()
    info = _driver_memory(spark)
    app_id = spark.sparkContext.applicationId

    # Not timed: facts about the output.
    windows = spark.read.format("delta").load(str(windows_path))
    files = delta_active_files(windows_path)
    extra: dict[str, Any] = {
        "windows_table_bytes": sum(os.path.getsize(f) for f in files),
        "windows_table_files": len(files),
    }
    user = spec.get("heavy_user")
    if user:
        row = (
            windows.where(F.col("user_id") == user)
            .agg(
                F.count("*").alias("windows"),
                F.countDistinct("session_id").alias("sessions"),
                F.max("n_events").alias("max_events"),
                F.sum("n_events").alias("event_slots"),
            )
            .first()
        )
        extra["heavy_user"] = {
            "user_id": user,
            "windows": row["windows"],
            "sessions": row["sessions"],
            "max_events_in_window": row["max_events"],
            "event_slots": row["event_slots"],
        }
    spark.stop()
    return {
        "seconds": round(seconds, 2),
        "spark_startup_seconds": round(startup, 2),
        "t_measure": [w0, w1],
        "app_id": app_id,
        "summary": {
            k: summary[k]
            for k in ("windows", "sessions_starting_in_run", "users", "max_events_in_window")
        },
        **info,
        **extra,
    }


def duckdb_sql(cfg, events_files: list[str], out_dir: str) -> str:
    """The reference: sessions and windows in DuckDB SQL, mirroring ubsd.sessionize exactly.

    Session and window ids use the same sha256 digests as Spark, so windows can be matched one
    to one. Features mirror ubsd.sessionize.features; the item and category buckets use
    DuckDB's hash() in place of Spark's xxhash64 (same work, other values: not compared).
    """
    from ubsd.io.schemas import KNOWN_EVENT_TYPES
    from ubsd.sessionize.spec import feature_spec

    length, stride = cfg.window_length, cfg.window_stride
    gap_us = int(cfg.gap_minutes * 60 * 1_000_000)
    chunk_us = int(cfg.max_session_minutes * 60 * 1_000_000)
    types = "[" + ", ".join(f"'{t}'" for t in KNOWN_EVENT_TYPES) + "]"
    files = "[" + ", ".join(f"'{f}'" for f in events_files) + "]"

    def log_bucket(x: str, n: int) -> str:
        # Spark: log2(v) = StrictMath.log(v) / StrictMath.log(2); floor(2*log2(1+x)), capped.
        return f"(least(floor(ln(1.0 + {x}) / ln(2.0) * 2), {n - 3}) + 2)::INTEGER"

    def pad(expr: str, fill: str) -> str:
        return f"list_resize({expr}, {length}, {fill})"

    ints = {
        "event_type_ids": "event_type_id",
        "dt_buckets": "dt_bucket",
        "item_buckets": "item_bucket",
        "category_buckets": "category_bucket",
        "position_buckets": "position_bucket",
        "sponsored_flags": "sponsored_flag",
        "price_buckets": "price_bucket",
        "hours": "hour_id",
        "device_change_flags": "device_change",
        "ip_change_flags": "ip_change",
    }
    struct_fields = ", ".join(
        [
            "pos := pos",
            "event_id := event_id",
            "event_type := event_type",
            "item_id := item_id",
            "us := us",
            "dt_seconds := dt_seconds",
            *[f"{v} := {v}" for v in ints.values()],
        ]
    )
    feature_cols = ",\n      ".join(
        pad(f"list_transform(ev, lambda x: x.{v})", "0::INTEGER") + f" AS {k}"
        for k, v in ints.items()
    )
    version = feature_spec(cfg).version
    return f"""
COPY (
  WITH ev AS (
    SELECT event_id, user_id, epoch_us(ts) AS us, event_type, item_id, category_id, position,
           is_sponsored, price, device_hash, ip_hash
    FROM read_parquet({files})
  ),
  a AS (
    SELECT *,
      lag(us) OVER wu AS prev_us,
      row_number() OVER wu AS rn_u,
      last_value(device_hash IGNORE NULLS) OVER (PARTITION BY user_id ORDER BY us, event_id
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_device,
      last_value(ip_hash IGNORE NULLS) OVER (PARTITION BY user_id ORDER BY us, event_id
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_ip
    FROM ev
    WINDOW wu AS (PARTITION BY user_id ORDER BY us, event_id)
  ),
  b AS (
    SELECT *, sum(CASE WHEN prev_us IS NULL OR us - prev_us > {gap_us} THEN 1 ELSE 0 END)
      OVER (PARTITION BY user_id ORDER BY us, event_id ROWS UNBOUNDED PRECEDING) AS gap_no
    FROM a
  ),
  c AS (  -- duration chunks from the gap session's start
    SELECT *, (us - min(us) OVER (PARTITION BY user_id, gap_no)) // {chunk_us} AS dur_chunk
    FROM b
  ),
  d AS (  -- index in the duration chunk (a contiguous run of the user's order), then count chunks
    SELECT *, rn_u - min(rn_u) OVER (PARTITION BY user_id, gap_no, dur_chunk) AS idx FROM c
  ),
  e AS (
    SELECT *, idx // {cfg.max_session_events} AS cnt_chunk,
      (idx % {cfg.max_session_events})::INTEGER AS pos
    FROM d
  ),
  s AS (
    SELECT *,
      min(us) OVER ws AS start_us,
      arg_min(event_id, rn_u) OVER ws AS first_event
    FROM e
    WINDOW ws AS (PARTITION BY user_id, gap_no, dur_chunk, cnt_chunk)
  ),
  f AS (
    SELECT user_id, pos, event_id, event_type, item_id, us,
      substr(sha256(concat_ws('|', user_id, start_us::VARCHAR, first_event)), 1, 24) AS session_id,
      CASE WHEN pos = 0 THEN 0.0 ELSE (us - prev_us) / 1e6 END AS dt_seconds,
      CASE WHEN coalesce(list_position({types}, event_type), 0) = 0 THEN 1
           ELSE list_position({types}, event_type) + 1 END::INTEGER AS event_type_id,
      CASE WHEN pos = 0 THEN 1
           ELSE {log_bucket("greatest((us - prev_us) / 1e6, 0.0)", cfg.dt_buckets)} END
        AS dt_bucket,
      CASE WHEN item_id IS NULL THEN 1
           ELSE (hash(item_id) % {cfg.item_buckets - 2}) + 2 END::INTEGER AS item_bucket,
      CASE WHEN category_id IS NULL THEN 1
           ELSE (hash(category_id) % {cfg.category_buckets - 2}) + 2 END::INTEGER
        AS category_bucket,
      CASE WHEN position IS NULL THEN 1
           ELSE least(position, {cfg.position_buckets - 3}) + 2 END::INTEGER AS position_bucket,
      CASE WHEN is_sponsored IS NULL THEN 1 WHEN is_sponsored THEN 3 ELSE 2 END::INTEGER
        AS sponsored_flag,
      CASE WHEN price IS NULL THEN 1 ELSE {log_bucket("price", cfg.price_buckets)} END
        AS price_bucket,
      (hour(make_timestamp(us)) + 1)::INTEGER AS hour_id,
      CASE WHEN device_hash IS NOT NULL AND prev_device IS NOT NULL AND device_hash <> prev_device
           THEN 2 ELSE 1 END::INTEGER AS device_change,
      CASE WHEN ip_hash IS NOT NULL AND prev_ip IS NOT NULL AND ip_hash <> prev_ip
           THEN 2 ELSE 1 END::INTEGER AS ip_change
    FROM s
  ),
  x AS (  -- each event into the windows k with k*S <= pos < k*S + L
    SELECT *, unnest(range(greatest(0, floor((pos - {length}) / {stride})::BIGINT + 1),
                           (pos // {stride}) + 1)) AS window_index
    FROM f
  ),
  g AS (
    SELECT user_id, session_id, window_index,
      list(struct_pack({struct_fields}) ORDER BY pos) AS ev,
      max(pos) AS max_pos
    FROM x
    GROUP BY user_id, session_id, window_index
    HAVING window_index = 0 OR max(pos) >= (window_index - 1) * {stride} + {length}
  )
  SELECT
      substr(sha256(concat_ws('|', session_id, window_index::VARCHAR)), 1, 32) AS window_id,
      user_id, session_id, window_index::INTEGER AS window_index,
      make_timestamp(ev[1].us) AS start_ts,
      make_timestamp(ev[-1].us) AS end_ts,
      len(ev)::INTEGER AS n_events,
      {pad("list_transform(ev, lambda x: x.event_id)", "NULL::VARCHAR")} AS event_ids,
      {pad("list_transform(ev, lambda x: x.event_type)", "NULL::VARCHAR")} AS event_types,
      {pad("list_transform(ev, lambda x: x.item_id)", "NULL::VARCHAR")} AS item_ids,
      {pad("list_transform(ev, lambda x: x.dt_seconds::DOUBLE)", "0.0::DOUBLE")} AS dt_seconds,
      {feature_cols},
      {pad("list_transform(ev, lambda x: 1::INTEGER)", "0::INTEGER")} AS mask,
      NULL::INTEGER AS label,
      NULL::VARCHAR AS fraud_type,
      '{version}' AS feature_version,
      make_timestamp(ev[1].us)::DATE AS date
  FROM g
) TO '{out_dir}' (FORMAT parquet, COMPRESSION snappy, PARTITION_BY (date), OVERWRITE_OR_IGNORE)
"""


def _duck_connect(spec: dict[str, Any]):
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {spec['duckdb_threads']}")
    con.execute(f"SET memory_limit = '{spec['duckdb_memory_limit']}'")
    tmp = Path(spec["duckdb_temp"])
    tmp.mkdir(parents=True, exist_ok=True)
    con.execute(f"SET temp_directory = '{tmp}'")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET preserve_insertion_order = false")
    return con


def worker_duckdb(spec: dict[str, Any]) -> dict[str, Any]:
    settings = _settings(spec)
    out_dir = Path(spec["duckdb_out"])
    shutil.rmtree(out_dir, ignore_errors=True)
    files = delta_active_files(Path(spec["events_table"]))
    sql = duckdb_sql(settings.sessionize, files, str(out_dir))
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    (out_dir.parent / "duckdb_windows.sql").write_text(sql)
    con = _duck_connect(spec)
    w0, t0 = time.time(), time.perf_counter()
    con.execute(sql)
    seconds = time.perf_counter() - t0
    w1 = time.time()
    import duckdb

    return {
        "seconds": round(seconds, 2),
        "t_measure": [w0, w1],
        "events_files": len(files),
        "threads": spec["duckdb_threads"],
        "memory_limit": spec["duckdb_memory_limit"],
        "duckdb_version": duckdb.__version__,
        "output_bytes": _dir_bytes(out_dir),
        "sql": str((out_dir.parent / "duckdb_windows.sql").relative_to(REPO)),
    }


# Per window_id comparison: everything except the xxhash64 buckets and run metadata.
COMPARED_COLUMNS = (
    "user_id",
    "session_id",
    "window_index",
    "start_ts",
    "end_ts",
    "n_events",
    "event_ids",
    "event_types",
    "item_ids",
    "dt_seconds",
    "event_type_ids",
    "dt_buckets",
    "position_buckets",
    "sponsored_flags",
    "price_buckets",
    "hours",
    "device_change_flags",
    "ip_change_flags",
    "mask",
    "feature_version",
    "date",
)


def worker_compare(spec: dict[str, Any]) -> dict[str, Any]:
    con = _duck_connect(spec)
    spark_files = delta_active_files(Path(spec["windows_table"]))
    flist = "[" + ", ".join(f"'{f}'" for f in spark_files) + "]"
    # Spark's date lives in the partition path: take it from there, as DuckDB's output does.
    con.execute(f"CREATE VIEW sp AS SELECT * FROM read_parquet({flist}, hive_partitioning = true)")
    con.execute(
        f"CREATE VIEW dk AS SELECT * FROM read_parquet('{spec['duckdb_out']}/**/*.parquet', "
        "hive_partitioning = true)"
    )

    def one(sql: str):
        return con.execute(sql).fetchone()

    out: dict[str, Any] = {}
    for name in ("sp", "dk"):
        n, sess, users, maxn = one(
            f"SELECT count(*), count(DISTINCT session_id), count(DISTINCT user_id), "
            f"max(n_events) FROM {name}"
        )
        out[name] = {"windows": n, "sessions": sess, "users": users, "max_events_in_window": maxn}
    ms = "SELECT user_id, window_index, n_events, count(*) AS c FROM {} GROUP BY ALL"
    out["multiset_mismatches"] = one(
        f"SELECT count(*) FROM ({ms.format('sp')}) a FULL OUTER JOIN ({ms.format('dk')}) b "
        "USING (user_id, window_index, n_events) WHERE a.c IS DISTINCT FROM b.c"
    )[0]
    only_sp, only_dk, both = one(
        "SELECT count(*) FILTER (WHERE d.window_id IS NULL), "
        "count(*) FILTER (WHERE s.window_id IS NULL), "
        "count(*) FILTER (WHERE s.window_id IS NOT NULL AND d.window_id IS NOT NULL) "
        "FROM sp s FULL OUTER JOIN dk d USING (window_id)"
    )
    out["window_ids"] = {"only_spark": only_sp, "only_duckdb": only_dk, "both": both}
    cols = ", ".join(
        f"count(*) FILTER (WHERE s.{c} IS DISTINCT FROM d.{c}) AS {c}" for c in COMPARED_COLUMNS
    )
    row = con.execute(f"SELECT {cols} FROM sp s JOIN dk d USING (window_id)").fetchone()
    out["column_mismatches"] = {c: v for c, v in zip(COMPARED_COLUMNS, row, strict=True)}
    out["columns_compared"] = list(COMPARED_COLUMNS)
    out["not_compared"] = [
        "item_buckets",
        "category_buckets",
        "label",
        "fraud_type",
        "run_id",
        "processed_at",
    ]
    sp, dk = out["sp"], out["dk"]
    out["agree"] = {
        "sessions": sp["sessions"] == dk["sessions"],
        "windows": sp["windows"] == dk["windows"],
        "user_window_n_events_multiset": out["multiset_mismatches"] == 0,
        "window_ids": only_sp == 0 and only_dk == 0,
        "window_contents": all(v == 0 for v in out["column_mismatches"].values()),
    }
    out["agree_all"] = all(out["agree"].values())
    return out


WORKERS = {
    "generate": worker_generate,
    "ingest": worker_ingest,
    "sessionize": worker_sessionize,
    "duckdb": worker_duckdb,
    "compare": worker_compare,
}


def worker_main(kind: str, spec_path: str, out_path: str) -> int:
    import logging

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    spec = json.loads(Path(spec_path).read_text())
    result = WORKERS[kind](spec)
    _write_json(Path(out_path), result)
    return 0


# --------------------------------------------------------------------------------------------
# event log: where did Spark's time go
# --------------------------------------------------------------------------------------------
_METRICS = {
    "internal.metrics.executorRunTime": "task_time_s",
    "internal.metrics.jvmGCTime": "gc_s",
    "internal.metrics.shuffle.write.bytesWritten": "shuffle_write_mb",
    "internal.metrics.shuffle.read.localBytesRead": "shuffle_read_mb",
    "internal.metrics.memoryBytesSpilled": "spill_memory_mb",
    "internal.metrics.diskBytesSpilled": "spill_disk_mb",
    "internal.metrics.input.recordsRead": "input_records",
    "internal.metrics.output.recordsWritten": "output_records",
    "internal.metrics.peakExecutionMemory": "peak_execution_memory_mb",
}


def stage_breakdown(event_log_dir: Path, app_id: str, top: int = 8) -> dict[str, Any]:
    """Stages and SQL executions of the measured run, from Spark's (uncompressed) event log."""
    # Spark 4 writes a folder eventlog_v2_<app>/ of rolled events_<n>_<app> files.
    files = sorted(
        (
            p
            for p in event_log_dir.rglob(f"*{app_id}*")
            if p.is_file() and (p.name.startswith("events_") or p.name == app_id)
        ),
        key=lambda p: int(p.name.split("_")[1]) if p.name.startswith("events_") else 0,
    )
    if not files:
        return {"error": f"no event log for {app_id} in {event_log_dir}"}
    lines = [line for f in files for line in f.read_text().splitlines()]
    stages: list[dict[str, Any]] = []
    sql: dict[int, dict[str, Any]] = {}
    stage_sql: dict[int, int] = {}
    for line in lines:
        ev = json.loads(line)
        kind = ev.get("Event", "")
        if kind == "SparkListenerJobStart":
            ex = (ev.get("Properties") or {}).get("spark.sql.execution.id")
            for sid in ev.get("Stage IDs", []):
                if ex is not None:
                    stage_sql[sid] = int(ex)
        elif kind == "SparkListenerStageCompleted":
            info = ev["Stage Info"]
            if "Submission Time" not in info:
                continue  # skipped stage
            row: dict[str, Any] = {
                "stage": info["Stage ID"],
                "name": info["Stage Name"],
                "tasks": info["Number of Tasks"],
                "wall_s": round((info["Completion Time"] - info["Submission Time"]) / 1000, 2),
            }
            for acc in info.get("Accumulables", []):
                key = _METRICS.get(acc.get("Name"))
                if key is None:
                    continue
                v = int(acc.get("Value", 0))
                if key.endswith("_s"):
                    v = round(v / 1000, 2)
                elif key.endswith("_mb"):
                    v = round(v / 1024 / 1024, 1)
                row[key] = v
            stages.append(row)
        elif kind.endswith("SparkListenerSQLExecutionStart"):
            sql[ev["executionId"]] = {
                "id": ev["executionId"],
                "description": (ev.get("description") or "")[:100],
                "start": ev["time"],
            }
        elif kind.endswith("SparkListenerSQLExecutionEnd") and ev["executionId"] in sql:
            s = sql[ev["executionId"]]
            s["wall_s"] = round((ev["time"] - s.pop("start")) / 1000, 2)
    for row in stages:
        row["sql_execution"] = stage_sql.get(row["stage"])
    totals = {
        k: round(sum(r.get(k, 0) for r in stages), 1)
        for k in (
            "wall_s",
            "task_time_s",
            "gc_s",
            "shuffle_write_mb",
            "spill_disk_mb",
            "spill_memory_mb",
        )
    }
    executions = sorted(
        (s for s in sql.values() if "wall_s" in s), key=lambda s: s["wall_s"], reverse=True
    )
    return {
        "stage_totals": totals,
        "top_stages": sorted(stages, key=lambda r: r["wall_s"], reverse=True)[:top],
        "sql_executions": executions[:top],
    }


# --------------------------------------------------------------------------------------------
# orchestration
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Dataset:
    name: str
    target_events: int
    heavy_user_events: int = 0

    @property
    def root(self) -> Path:
        return WORK / self.name

    @property
    def gen(self) -> Path:
        return self.root / "gen"

    @property
    def logs(self) -> Path:
        return self.root / "logs"


def ingest_partitions(rows: int, floor: int) -> int:
    """Shuffle partitions for ingest: the project's, or more so a partition holds <= 500k rows.

    Ingest persists its validated rows (raw text included); at 10M rows a 4g driver runs out
    of heap there with 4 or 20 partitions (see README), hence ``--ingest-driver-memory``.
    """
    return max(floor, -(-rows // 500_000))


def prepare_dataset(ds: Dataset, ingest_memory: str, partitions: int | None) -> dict[str, Any]:
    """Generate (or reuse) the raw data and ingest it (or reuse the ingested table)."""
    from ubsd.synth import Manifest, get_profile, scaled

    ds.logs.mkdir(parents=True, exist_ok=True)
    profile = scaled(get_profile(PROFILE), ds.target_events)
    info: dict[str, Any] = {"profile": profile.name, "profile_version": profile.version}
    manifest = None
    if (ds.gen / "manifest.json").exists():
        m = Manifest.read(ds.gen)
        if (
            m.profile == profile.name
            and m.profile_version == profile.version
            and m.overrides == {"n_users": profile.n_users}
            and m.heavy_user_events == ds.heavy_user_events
            and m.format == "parquet"
        ):
            manifest = m
            info["generate"] = {"reused": True}
    if manifest is None:
        _log(f"{ds.name}: generating {PROFILE} ~{ds.target_events:,} events")
        shutil.rmtree(ds.root / "tables", ignore_errors=True)
        res = run_worker(
            "generate",
            {
                "profile": PROFILE,
                "target_events": ds.target_events,
                "out_dir": str(ds.gen),
                "heavy_user_events": ds.heavy_user_events,
            },
            ds.logs / "generate.log",
        )
        info["generate"] = {"reused": False, "seconds": res["seconds"]}
        manifest = Manifest.read(ds.gen)
    info.update(
        events_generated=manifest.events,
        rows_written=sum(manifest.rows_written_per_date.values()),
        n_users=profile.n_users,
        dates=manifest.dates,
        content_sha256=manifest.content_sha256,
        raw_bytes=_dir_bytes(ds.gen / "raw"),
    )

    marker = ds.root / "ingest.json"
    events_table = ds.root / "tables" / "events"
    prev = json.loads(marker.read_text()) if marker.exists() else None
    if prev and prev.get("content_sha256") == manifest.content_sha256 and events_table.exists():
        info["ingest"] = {**prev["ingest"], "reused": True}
    else:
        parts = partitions or ingest_partitions(info["rows_written"], DEFAULT_PARTITIONS)
        _log(f"{ds.name}: ingesting {info['rows_written']:,} rows ({parts} shuffle partitions)")
        marker.unlink(missing_ok=True)
        shutil.rmtree(ds.root / "tables", ignore_errors=True)
        res = run_worker(
            "ingest",
            {
                "overrides": settings_overrides(ds.root, parts, ingest_memory),
                "dates": manifest.dates,
                "event_log_dir": str(ds.root / "eventlog"),
            },
            ds.logs / "ingest.log",
        )
        breakdown = stage_breakdown(ds.root / "eventlog", res["app_id"], top=4)
        ingest = {
            "seconds": res["seconds"],
            "spark_startup_seconds": res["spark_startup_seconds"],
            "events_per_s": round(res["summary"]["accepted"] / res["seconds"]),
            "peak_rss_mb": res["memory_whole_process"].get("peak_rss_mb"),
            "spark.driver.memory": res["spark.driver.memory"],
            "shuffle_partitions": parts,
            **res["summary"],
            "breakdown": breakdown,
        }
        _write_json(marker, {"content_sha256": manifest.content_sha256, "ingest": ingest})
        info["ingest"] = {**ingest, "reused": False}
    info["events"] = info["ingest"]["accepted"]
    info["events_table_bytes"] = sum(os.path.getsize(f) for f in delta_active_files(events_table))
    return info


def measure_spark(
    ds: Dataset, dates: list[str], partitions: int, memory: str, tag: str, heavy: str | None
) -> dict[str, Any]:
    event_logs = ds.root / "eventlog"
    res = run_worker(
        "sessionize",
        {
            "overrides": settings_overrides(ds.root, partitions, memory),
            "dates": dates,
            "event_log_dir": str(event_logs),
            "heavy_user": heavy,
        },
        ds.logs / f"sessionize-{tag}.log",
    )
    res["breakdown"] = stage_breakdown(event_logs, res.pop("app_id"))
    return res


def measure_duckdb(ds: Dataset, dates: list[str], args: argparse.Namespace) -> dict[str, Any]:
    spec = {
        "overrides": settings_overrides(ds.root, 4, "1g"),
        "dates": dates,
        "events_table": str(ds.root / "tables" / "events"),
        "duckdb_out": str(ds.root / "duckdb" / "windows"),
        "duckdb_temp": str(ds.root / "duckdb" / "tmp"),
        "duckdb_threads": args.duckdb_threads,
        "duckdb_memory_limit": args.duckdb_memory_limit,
    }
    res = run_worker("duckdb", spec, ds.logs / "duckdb.log")
    spec["windows_table"] = str(ds.root / "tables" / "windows")
    res["compare"] = run_worker("compare", spec, ds.logs / "compare.log")
    for k in ("memory_whole_process", "load_average_before", "load_average_after", "cpu"):
        res["compare"].pop(k, None)
    return res


def bench_size(ds: Dataset, args: argparse.Namespace, partitions: int) -> dict[str, Any]:
    data = prepare_dataset(ds, args.ingest_driver_memory, args.ingest_shuffle_partitions)
    events = data["events"]
    runs = []
    for i in range(args.repeat):
        _log(f"{ds.name}: spark sessionize run {i + 1}/{args.repeat} ({partitions} partitions)")
        runs.append(
            measure_spark(
                ds, data["dates"], partitions, args.driver_memory, f"p{partitions}-{i}", None
            )
        )
        _log(f"{ds.name}:   {runs[-1]['seconds']} s, peak RSS {runs[-1]['memory_during_measure']}")
    best = min(runs, key=lambda r: r["seconds"])
    trials = []
    for p in args.trial_partitions if ds.target_events == max(args.sizes) else []:
        if p == partitions:
            continue
        _log(f"{ds.name}: trial with {p} shuffle partitions")
        r = measure_spark(ds, data["dates"], p, args.driver_memory, f"p{p}-trial", None)
        trials.append(
            {
                "shuffle_partitions": p,
                "seconds": r["seconds"],
                "peak_rss_mb": r["memory_during_measure"].get("peak_rss_mb"),
                "load_average_before": r["load_average_before"],
                "stage_totals": r["breakdown"].get("stage_totals"),
            }
        )
        _log(f"{ds.name}:   {r['seconds']} s")
    _log(f"{ds.name}: duckdb reference")
    duck = measure_duckdb(ds, data["dates"], args)
    cmp_ = duck.pop("compare")
    _log(f"{ds.name}:   duckdb {duck['seconds']} s; agree {cmp_['agree']}")
    sessions = best["summary"]["sessions_starting_in_run"]
    out = {
        "events": events,
        "spark_seconds": best["seconds"],
        "spark_events_per_s": round(events / best["seconds"]),
        "spark_peak_rss_mb": best["memory_during_measure"].get("peak_rss_mb"),
        "duckdb_seconds": duck["seconds"],
        "duckdb_events_per_s": round(events / duck["seconds"]),
        "duckdb_peak_rss_mb": duck["memory_during_measure"].get("peak_rss_mb"),
        "windows": best["summary"]["windows"],
        "sessions": sessions,
        "agree": cmp_["agree_all"],
        "spark_over_duckdb_time": round(best["seconds"] / duck["seconds"], 2),
        "shuffle_partitions": partitions,
        "data": data,
        "spark_runs": runs,
        "shuffle_partition_trials": trials,
        "duckdb": duck,
        "agreement": cmp_,
    }
    return out


def bench_heavy(args: argparse.Namespace) -> dict[str, Any]:
    ds = Dataset(
        f"bv1-{args.heavy_base_events}-heavy{args.heavy_user_events}",
        args.heavy_base_events,
        args.heavy_user_events,
    )
    data = prepare_dataset(ds, args.ingest_driver_memory, args.ingest_shuffle_partitions)
    _log(f"{ds.name}: spark sessionize, driver memory {args.heavy_driver_memory}")
    r = measure_spark(
        ds, data["dates"], args.shuffle_partitions, args.heavy_driver_memory, "heavy", "heavy_bot_0"
    )
    _log(f"{ds.name}:   {r['seconds']} s, heavy user {r.get('heavy_user')}")
    out: dict[str, Any] = {
        "events": data["events"],
        "heavy_user_events": args.heavy_user_events,
        "spark_driver_memory": args.heavy_driver_memory,
        "completed": True,
        "spark_seconds": r["seconds"],
        "spark_events_per_s": round(data["events"] / r["seconds"]),
        "spark_peak_rss_mb": r["memory_during_measure"].get("peak_rss_mb"),
        "windows": r["summary"]["windows"],
        "sessions": r["summary"]["sessions_starting_in_run"],
        "heavy_user": r["heavy_user"],
        "max_events_in_window_ok": r["heavy_user"]["max_events_in_window"] <= args.window_length,
        "data": data,
        "spark_run": r,
    }
    if not args.skip_heavy_duckdb:
        _log(f"{ds.name}: duckdb reference")
        duck = measure_duckdb(ds, data["dates"], args)
        cmp_ = duck.pop("compare")
        out.update(
            duckdb_seconds=duck["seconds"],
            agree=cmp_["agree_all"],
            duckdb=duck,
            agreement=cmp_,
        )
        _log(f"{ds.name}:   duckdb {duck['seconds']} s; agree {cmp_['agree']}")
    return out


def acquire_lock():
    """One benchmark at a time: two runs share data sets and tables, and skew each other's time."""
    import fcntl

    WORK.mkdir(parents=True, exist_ok=True)
    fh = (WORK / ".sessionize_bench.lock").open("a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        print(f"another sessionize benchmark is running: {fh.read().strip()}", file=sys.stderr)
        return None
    fh.seek(0)
    fh.truncate()
    fh.write(f"pid {os.getpid()} since {time.strftime('%H:%M:%S')}: {' '.join(sys.argv)}\n")
    fh.flush()
    return fh


def git_info() -> dict[str, Any]:
    """The commit measured, and the library files that differed from it (shared working tree)."""

    def git(*a: str) -> str:
        return subprocess.run(["git", *a], capture_output=True, text=True, cwd=REPO).stdout.rstrip()

    dirty = git("status", "--porcelain", "--", "ubsd").splitlines()
    return {"commit": git("rev-parse", "HEAD"), "ubsd_uncommitted": [d[3:] for d in dirty]}


def machine_info() -> dict[str, Any]:
    from importlib.metadata import version

    import duckdb
    import pyarrow
    import pyspark

    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr
    return {
        "cores": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 1024**3, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "java": java.splitlines()[0] if java else None,
        "pyspark": pyspark.__version__,
        "delta_spark": version("delta-spark"),
        "duckdb": duckdb.__version__,
        "pyarrow": pyarrow.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "_worker":
        return worker_main(*argv[1:4])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[1_000_000, 10_000_000])
    ap.add_argument("--heavy-user-events", type=int, default=1_000_000, help="0 skips the run")
    ap.add_argument("--heavy-base-events", type=int, default=1_000_000)
    ap.add_argument("--heavy-driver-memory", default="2g")
    ap.add_argument("--skip-heavy-duckdb", action="store_true")
    ap.add_argument("--driver-memory", default="4g", help="spark.driver.memory (conf/local.yaml)")
    ap.add_argument("--shuffle-partitions", type=int, default=None, help="default: project's (4)")
    ap.add_argument(
        "--trial-partitions",
        type=int,
        nargs="*",
        default=[],
        help="extra sessionize runs of the largest size with these shuffle partitions",
    )
    ap.add_argument(
        "--ingest-driver-memory",
        default=None,
        help="spark.driver.memory for ingest (not measured); default: --driver-memory",
    )
    ap.add_argument(
        "--ingest-shuffle-partitions",
        type=int,
        default=None,
        help="default: the project's, raised to 1 per 500k rows (ingest is not measured)",
    )
    ap.add_argument("--repeat", type=int, default=1, help="spark runs per size; the best counts")
    ap.add_argument("--duckdb-threads", type=int, default=2)
    ap.add_argument("--duckdb-memory-limit", default="4GB")
    ap.add_argument(
        "--delete-scratch-over",
        type=int,
        default=2_000_000,
        help="delete a data set's scratch folder after its runs if it has more events (disk)",
    )
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument(
        "--merge",
        action="store_true",
        help="keep the sizes (and heavy-user block) of an existing --out not redone by this run",
    )
    args = ap.parse_args(argv)
    lock = acquire_lock()
    if lock is None:
        return 3

    from ubsd.config import load_config

    defaults = load_config(None)
    if args.ingest_driver_memory is None:
        args.ingest_driver_memory = args.driver_memory
    global DEFAULT_PARTITIONS
    DEFAULT_PARTITIONS = defaults.spark.shuffle_partitions
    if args.shuffle_partitions is None:
        args.shuffle_partitions = defaults.spark.shuffle_partitions
    args.window_length = defaults.sessionize.window_length

    report: dict[str, Any] = {
        "benchmark": "sessionize",
        "timestamp_start": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *argv]),
        "generator_profile": {"name": PROFILE},
        "machine": machine_info(),
        "git": git_info(),
        "load_average_start": _load(),
        "uptime_start": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
        "settings": {
            "spark_master": defaults.spark.master,
            "shuffle_partitions": args.shuffle_partitions,
            "spark_driver_memory": args.driver_memory,
            "sessionize": defaults.sessionize.model_dump(),
            "labels_path": None,
            "duckdb_threads": args.duckdb_threads,
            "duckdb_memory_limit": args.duckdb_memory_limit,
        },
        "sizes": {},
    }
    from ubsd.synth import get_profile

    report["generator_profile"]["version"] = get_profile(PROFILE).version

    invocation_keys = (
        "timestamp_start",
        "timestamp_end",
        "command",
        "load_average_start",
        "load_average_end",
        "uptime_start",
        "uptime_end",
        "git",
    )
    previous: list[dict[str, Any]] = []
    if args.merge and args.out.exists():
        prev = json.loads(args.out.read_text())
        report["sizes"] = prev.get("sizes", {})
        if "heavy_user" in prev:
            report["heavy_user"] = prev["heavy_user"]
        previous = prev.get("invocations") or [{k: prev.get(k) for k in invocation_keys}]

    def summarize() -> None:
        sizes = report["sizes"]
        ok = {k: v for k, v in sizes.items() if "spark_seconds" in v}
        if "1000000" in ok and "10000000" in ok:
            a, b = ok["1000000"], ok["10000000"]
            report["time_ratio_10m_over_1m"] = round(b["spark_seconds"] / a["spark_seconds"], 2)
            report["events_ratio_10m_over_1m"] = round(b["events"] / a["events"], 2)
            report["duckdb_time_ratio_10m_over_1m"] = round(
                b["duckdb_seconds"] / a["duckdb_seconds"], 2
            )
        report["spark_over_duckdb_time"] = {
            k: v["spark_over_duckdb_time"] for k, v in ok.items() if "spark_over_duckdb_time" in v
        }
        if "10000000" in report["spark_over_duckdb_time"]:
            report["spark_over_duckdb_time_10m"] = report["spark_over_duckdb_time"]["10000000"]

    def save() -> None:
        summarize()
        report["load_average_end"] = _load()
        report["uptime_end"] = subprocess.run(
            ["uptime"], capture_output=True, text=True
        ).stdout.strip()
        report["timestamp_end"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        # Every run of the script that contributed figures to this file (--merge).
        report["invocations"] = [*previous, {k: report.get(k) for k in invocation_keys}]
        _write_json(args.out, report)

    def now() -> str:
        return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")

    for size in args.sizes:
        ds = Dataset(f"bv1-{size}", size)
        try:
            report["sizes"][str(size)] = {
                **bench_size(ds, args, args.shuffle_partitions),
                "measured_at": now(),
            }
        except Exception as exc:  # keep what was measured so far
            report["sizes"][str(size)] = {"error": f"{type(exc).__name__}: {exc}"[-3000:]}
            _log(f"{ds.name}: FAILED {exc}")
        save()
        if size > args.delete_scratch_over:
            _log(f"{ds.name}: deleting scratch data {ds.root} (logs kept)")
            for child in ds.root.iterdir():
                if child.name != "logs":
                    shutil.rmtree(child) if child.is_dir() else child.unlink()

    if args.heavy_user_events > 0:
        try:
            report["heavy_user"] = {**bench_heavy(args), "measured_at": now()}
        except Exception as exc:
            report["heavy_user"] = {
                "completed": False,
                "spark_driver_memory": args.heavy_driver_memory,
                "error": f"{type(exc).__name__}: {exc}"[-3000:],
            }
            _log(f"heavy user: FAILED {exc}")
    save()
    _log(f"results written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
