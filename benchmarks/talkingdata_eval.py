"""TalkingData AdTracking sample: the label-free run, then the supervised evaluation.

1. ``run_unsupervised`` (what ``jobs/unsupervised.py`` runs) over the sample's dates: ingest
   through the talkingdata adapter, sessionize, pretrain, zero-label scoring, anomaly report;
   its report lands in ``benchmarks/results/talkingdata_unsupervised.{json,md,png}``.
2. The supervised evaluation of the model issue on the same windows: users = ip+device+os,
   target = ``is_attributed``, split by time then user; the fine-tuned detector beside the
   gradient-boosted trees, rules and the zero-label score. Written to
   ``benchmarks/results/eval_talkingdata.{json,md}`` and merged into ``eval.json`` under the
   ``talkingdata`` key.

    .venv/bin/python benchmarks/talkingdata_eval.py

Reads ``../shared/data/talkingdata/train_sample.csv``; exits 0 with a message when it is absent.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)

SAMPLE = REPO.parent / "shared/data/talkingdata/train_sample.csv"
START, END = "2017-11-06", "2017-11-09"

#: tiny with CPU step caps, as the benchmark-v1 report (eval_report.CPU_TRANSFORMER).
CPU = [
    "model.size=tiny",
    "training.max_pretrain_steps=800",
    "training.max_finetune_steps=400",
    "training.eval_every=100",
    "training.patience=4",
    "training.max_minutes=6",
]


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=REPO / "benchmarks/work/talkingdata")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks/results")
    ap.add_argument("--skip-unsupervised", action="store_true")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args(argv)
    if not SAMPLE.exists():
        print(f"no TalkingData sample at {SAMPLE}: nothing to do")
        return 0

    from eval_report import _git, _machine

    from ubsd.config import load_config
    from ubsd.evaluation.methods import BASELINES
    from ubsd.evaluation.report import evaluate, write_report
    from ubsd.io.paths import resolve_under
    from ubsd.io.window_arrays import load_windows
    from ubsd.pipeline.train import split_plan
    from ubsd.pipeline.unsupervised import run_unsupervised
    from ubsd.runs import RunContext, run_dates
    from ubsd.spark import get_spark
    from ubsd.training.detector import PretrainCache, TransformerDetector, ZeroLabelDetector
    from ubsd.training.splits import split_windows

    t_all = time.perf_counter()
    settings = load_config(
        REPO / "conf/talkingdata.yaml",
        [
            f"storage.root={args.work}",
            f"source.input_path={SAMPLE}",
            "mlflow.registered_model=ubsd-talkingdata",
            *CPU,
            *args.set,
        ],
    )
    dates = run_dates(start=START, end=END)
    spark = get_spark(settings, "ubsd-talkingdata-eval")
    out: dict = {"command": " ".join(["talkingdata_eval.py", *(argv or sys.argv[1:])])}

    if not args.skip_unsupervised:
        _log("label-free run: ingest -> sessionize -> pretrain -> zero-label scoring -> report")
        ctx = RunContext("unsupervised", dates)
        t0 = time.perf_counter()
        summary = run_unsupervised(spark, settings, ctx)
        out["unsupervised"] = {
            k: summary[k]
            for k in (
                *("rows_read", "accepted", "quarantined", "duplicate", "windows"),
                *("rows_scored", "flagged", "flagged_rate", "label_relation", "seconds"),
            )
        }
        out["unsupervised"]["total_seconds"] = round(time.perf_counter() - t0, 1)
        for p in [*summary["report"], summary["histogram"]]:
            src = Path(p)
            stem = "talkingdata_unsupervised"
            dst = args.out / (f"{stem}{src.suffix}" if src.stem == "report" else f"{stem}.png")
            shutil.copyfile(src, dst)
        _log(f"label-free run done: {out['unsupervised']['label_relation']}")

    _log("supervised evaluation: target is_attributed, split by time then user")
    table = resolve_under(settings.storage.root, settings.storage.windows_table)
    windows = load_windows(
        spark, table, settings.storage.format, settings.sessionize.window_length, dates
    )
    spark.stop()
    split = split_windows(windows, split_plan(settings, dates))
    _log(f"split: {split.summary['windows']}")
    cache = PretrainCache()
    methods = {
        "transformer_full": lambda: TransformerDetector(settings, "full", cache),
        "zero_label": lambda: ZeroLabelDetector(settings, cache),
        "gbt": BASELINES["gbt"],
        "rules": BASELINES["rules"],
    }
    result = evaluate(methods, split, settings.training.target_precision, 0.01, log=_log)
    result["title"] = "TalkingData AdTracking sample (target: is_attributed)"
    result["split"] = split.summary
    result["data"] = {
        "sample": str(SAMPLE.relative_to(REPO.parent)),
        "dates": [d.isoformat() for d in dates],
        "windows": int(windows.n),
        "positive_windows": int(windows.labels.sum()) if windows.labels is not None else None,
        "user_key": settings.source.talkingdata_user_key,
    }
    result["transformer_settings"] = {"model": settings.model.model_dump(), "caps": CPU}
    result["git"] = _git()
    result["machine"] = _machine()
    result["load_average"] = list(os.getloadavg())
    result["timestamp"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    result["total_seconds"] = round(time.perf_counter() - t_all, 1)
    paths = write_report(result, args.out, "eval_talkingdata")
    _log(f"wrote {', '.join(str(p) for p in paths)}")

    public = json.loads((args.out / "eval_talkingdata.json").read_text())
    keep = ("roc_auc", "pr_auc", "f1", "recall_at_1pct_fpr", "precision", "recall", "positives")
    out["methods"] = {n: {k: m.get(k) for k in keep} for n, m in public["methods"].items()}
    out["split"] = public["split"]["windows"]
    out["report"] = "eval_talkingdata.json"
    out["timestamp"] = public["timestamp"]
    merged_path = args.out / "eval.json"
    merged = json.loads(merged_path.read_text()) if merged_path.exists() else {}
    if args.skip_unsupervised and "unsupervised" in merged.get("talkingdata", {}):
        out["unsupervised"] = merged["talkingdata"]["unsupervised"]
    merged["talkingdata"] = out
    merged_path.write_text(json.dumps(merged, indent=2) + "\n")
    _log(f"merged under 'talkingdata' in {merged_path} ({time.perf_counter() - t_all:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
