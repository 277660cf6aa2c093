"""Evaluation report: every registered method on one time- and user-split of a generator profile.

Generates the profile's data (``ubsd.synth``, resized with ``scaled`` to ``--events``), ingests
and sessionizes it with the library functions the jobs run (Delta, local Spark), streams the
windows into numpy, splits them by time and by user (``ubsd.training.splits``), then runs every
method of ``ubsd.evaluation.methods`` plus the leave-one-fraud-type-out run, and writes
``benchmarks/results/eval.json``, ``eval.md`` and PNGs under ``benchmarks/results/eval/``.

    .venv/bin/python benchmarks/eval_report.py                        # benchmark-v1, all methods
    .venv/bin/python benchmarks/eval_report.py --methods rules gbt    # a subset
    .venv/bin/python benchmarks/eval_report.py --prepare-only         # data only (cached)

Prepared data are cached under ``benchmarks/work/eval/<profile>-<events>/`` and reused while the
generator manifest matches. Sized to keep the whole report under an hour on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pickle
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)

DEFAULT_EVENTS = 600_000


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _overrides(root: Path) -> list[str]:
    return [
        f"storage.root={root}",
        "storage.format=delta",
        "storage.input_path=raw/date={date}",
        "storage.labels_path=labels",
        "ingest.allow_dev_hash_key=true",
        "ingest.input_format=parquet",
        "spark.shuffle_partitions=4",
        "spark.driver_memory=4g",
    ]


def prepare(profile_name: str, events: int, work: Path) -> dict[str, Any]:
    """Generate -> ingest -> sessionize into ``work/<profile>-<events>`` (cached); data summary."""
    from ubsd.config import load_config
    from ubsd.ingest import run_ingest
    from ubsd.runs import RunContext, run_dates
    from ubsd.sessionize import run_sessionize
    from ubsd.spark import get_spark
    from ubsd.synth import generate, get_profile, scaled

    root = work / f"{profile_name}-{events}"
    done = root / "prepared.json"
    profile = scaled(get_profile(profile_name), events)
    if done.exists():
        info = json.loads(done.read_text())
        if info.get("n_users") == profile.n_users and info.get("profile") == profile_name:
            _log(f"reusing prepared data in {root}")
            return info
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    manifest = generate(profile, root, fmt="parquet")
    gen_s = time.perf_counter() - t0
    _log(f"generated {manifest.events:,} events ({gen_s:.1f} s)")
    settings = load_config(None, _overrides(root))
    dates = run_dates(start=manifest.dates[0], end=manifest.dates[-1])
    spark = get_spark(settings, "ubsd-eval-prepare")
    t0 = time.perf_counter()
    ingest = run_ingest(spark, settings, RunContext("ingest", dates))
    ingest_s = time.perf_counter() - t0
    _log(f"ingested {ingest['accepted']:,} events ({ingest_s:.1f} s)")
    t0 = time.perf_counter()
    sess = run_sessionize(spark, settings, RunContext("sessionize", dates))
    sess_s = time.perf_counter() - t0
    _log(f"sessionized: {sess['windows']:,} windows ({sess_s:.1f} s)")
    info = {
        "profile": profile_name,
        "profile_version": manifest.profile_version,
        "n_users": profile.n_users,
        "target_events": events,
        "events": manifest.events,
        "fraud_users": manifest.fraud_users,
        "dates": [d.isoformat() for d in dates],
        "windows": sess["windows"],
        "sessions": sess["sessions_starting_in_run"],
        "positive_windows": sess["positive_windows"],
        "feature_version": sess["feature_version"],
        "windows_table": str(root / settings.storage.windows_table),
        "window_length": settings.sessionize.window_length,
        "seconds": {
            "generate": round(gen_s, 1),
            "ingest": round(ingest_s, 1),
            "sessionize": round(sess_s, 1),
        },
    }
    done.write_text(json.dumps(info, indent=2))
    return info


def load(info: dict[str, Any]):
    """The prepared windows as one WindowArrays (streamed from the table's files)."""
    from ubsd.config import load_config
    from ubsd.io.window_arrays import load_windows
    from ubsd.spark import get_spark

    root = Path(info["windows_table"]).parents[1]
    cache = root / "windows.pkl"  # local scratch cache of the loaded arrays (trusted, ours)
    if cache.exists() and cache.stat().st_mtime > (root / "prepared.json").stat().st_mtime:
        with cache.open("rb") as fh:
            return pickle.load(fh)
    settings = load_config(None, _overrides(root))
    spark = get_spark(settings, "ubsd-eval-load")
    dates = [dt.date.fromisoformat(d) for d in info["dates"]]
    windows = load_windows(spark, info["windows_table"], "delta", info["window_length"], dates)
    spark.stop()
    with cache.open("wb") as fh:
        pickle.dump(windows, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return windows


def _machine() -> dict[str, Any]:
    import numpy as np
    import sklearn
    import torch

    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count(),
        "mem_gib": mem,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "sklearn": sklearn.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }


def _git() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        )
        return out.stdout.strip() or None
    except OSError:
        return None


#: The transformer on this 2-core CPU: tiny, with step and time caps that keep the whole report
#: (leave-one-type-out included) under an hour. A GPU run uses --set model.size=small.
CPU_TRANSFORMER = [
    "model.size=tiny",
    "training.max_pretrain_steps=1000",
    "training.max_finetune_steps=500",
    "training.eval_every=100",
    "training.patience=4",
    "training.max_minutes=10",
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="benchmark-v1")
    ap.add_argument("--events", type=int, default=DEFAULT_EVENTS)
    ap.add_argument("--work", type=Path, default=REPO / "benchmarks/work/eval")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks/results")
    ap.add_argument("--name", default="eval", help="result file stem (eval -> eval.json)")
    ap.add_argument("--methods", nargs="*", default=None, help="default: all registered")
    ap.add_argument("--no-loto", action="store_true", help="skip leave-one-type-out")
    ap.add_argument(
        "--merge-into",
        default=None,
        metavar="NAME",
        help="also merge this run's methods and leave-one-type-out rows into NAME.json/.md",
    )
    ap.add_argument("--prepare-only", action="store_true")
    ap.add_argument("--max-fpr", type=float, default=0.01)
    ap.add_argument("--train-date-fraction", type=float, default=0.6)
    ap.add_argument("--validation-user-fraction", type=float, default=0.2)
    ap.add_argument("--test-user-fraction", type=float, default=0.3)
    ap.add_argument("--split-seed", type=int, default=0)
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config overrides for the transformer methods (default: tiny with CPU step caps)",
    )
    args = ap.parse_args(argv)

    t_all = time.perf_counter()
    info = prepare(args.profile, args.events, args.work)
    if args.prepare_only:
        return 0

    from ubsd.config import load_config
    from ubsd.evaluation.methods import BASELINES, transformer_methods
    from ubsd.evaluation.report import evaluate, leave_one_type_out, write_report
    from ubsd.training.splits import split_windows

    settings = load_config(None, [*CPU_TRANSFORMER, *args.set])
    METHODS = {**transformer_methods(settings), **BASELINES}  # noqa: N806
    target_precision = settings.training.target_precision
    t0 = time.perf_counter()
    windows = load(info)
    _log(f"loaded {windows.n:,} windows ({time.perf_counter() - t0:.1f} s)")
    split = split_windows(
        windows,
        train_date_fraction=args.train_date_fraction,
        validation_user_fraction=args.validation_user_fraction,
        test_user_fraction=args.test_user_fraction,
        seed=args.split_seed,
    )
    _log(f"split: {split.summary['windows']}")
    names = args.methods or list(METHODS)
    factories = {n: METHODS[n] for n in names}
    t0 = time.perf_counter()
    result = evaluate(factories, split, target_precision, args.max_fpr, log=_log)
    main_s = time.perf_counter() - t0
    if not args.no_loto:
        t0 = time.perf_counter()
        result["leave_one_type_out"] = leave_one_type_out(
            factories, split, target_precision, args.max_fpr, fitted=result["_fitted"], log=_log
        )
        result["leave_one_type_out"]["seconds"] = round(time.perf_counter() - t0, 1)
    result["seconds_main_run"] = round(main_s, 1)
    result["title"] = f"{info['profile']} v{info['profile_version']}"
    result["data"] = info
    result["split"] = split.summary
    result["benchmark"] = "eval_report"
    result["transformer_settings"] = {
        "model": settings.model.model_dump(),
        "training": settings.training.model_dump(),
    }
    result["command"] = " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])])
    result["git"] = _git()
    result["machine"] = _machine()
    result["load_average"] = list(os.getloadavg())
    result["timestamp"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    result["total_seconds"] = round(time.perf_counter() - t_all, 1)
    paths = write_report(result, args.out, args.name)
    _log(f"wrote {', '.join(str(p) for p in paths)}")
    if args.merge_into:
        _log(f"merged into {merge(args.out, args.name, args.merge_into)}")
    return 0


def merge(out: Path, name: str, into: str) -> Path:
    """Merge run ``name``'s methods and leave-one-type-out rows into report ``into``.

    The split must be the same (same data and split settings); the methods of ``name`` replace
    those of the same name in ``into``, and ``runs`` records which file each method came from.
    """
    from ubsd.evaluation.report import markdown

    part = json.loads((out / f"{name}.json").read_text())
    target = out / f"{into}.json"
    whole = json.loads(target.read_text())
    if part["split"]["windows"] != whole["split"]["windows"]:
        raise SystemExit(f"{name} and {into} were run on different splits: not merging")
    whole["methods"].update(part["methods"])
    runs = whole.setdefault("runs", {})
    for m in part["methods"]:
        runs[m] = {"file": f"{name}.json", "git": part.get("git"), "ts": part.get("timestamp")}
    if part.get("leave_one_type_out"):
        whole.setdefault("leave_one_type_out", {"types": {}})
        for t, row in part["leave_one_type_out"]["types"].items():
            whole["leave_one_type_out"]["types"].setdefault(t, {}).update(row)
    earlier = whole.pop("transformer_run", None)  # superseded by "runs"
    if earlier:  # keep the provenance of the methods this run did not redo
        for m in ("transformer_full", "transformer_lora", "zero_label", "transformer_fused"):
            if m in whole["methods"] and m not in part["methods"]:
                runs.setdefault(m, {"file": earlier["file"], "note": earlier.get("note")})
    target.write_text(json.dumps(whole, indent=2) + "\n")
    (out / f"{into}.md").write_text(markdown(whole))
    return target


if __name__ == "__main__":
    raise SystemExit(main())
