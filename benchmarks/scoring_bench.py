"""Scoring benchmark: the Spark job path (``run_scoring``) against a plain torch loop.

Windows are generated (``tests/window_factory.py``: Markov shoppers and click bots, 3% bots,
a few thousand distinct windows tiled to ``--windows`` with distinct ids) and written into a
Delta windows table of one day. A ``--size`` model (default ``small``) is pretrained and
fine-tuned briefly on the same generator (step caps below), registered, made champion. Then,
with the JVM already started (its start-up is excluded):

* **spark**: ``run_scoring`` on ``local[2]`` with ``explain_max_windows=0``; ``score_s`` is the
  scoring stage (Delta read + ``predict_batch_udf`` + persist/count, Python worker start and
  model load included); the whole run (writes, read-backs, MLflow) is ``run_s``. Run twice:
  the first run pays worker start-up, the second is reported as warm.
* **plain**: one process, ``torch.set_num_threads(2)``, the same model and batch size over the
  same windows: ``compute_s`` (model only, arrays in memory) and ``read_compute_s`` (plus
  reading the table's Parquet files with pyarrow).
* **precision**: the plain loop in fp32, bf16 autocast (and int8 via torchao when installed),
  windows/s, PR-AUC on the labels and flagged windows at the model's stored threshold; the
  Spark job again with ``scoring.precision=bf16``.
* **reasons**: ``explain_rows`` over ``--explain`` flagged windows, timed on its own, for both
  attribution methods.

    .venv/bin/python benchmarks/scoring_bench.py                  # 100,000 windows, small
    .venv/bin/python benchmarks/scoring_bench.py --windows 10000  # reduced, loaded machine

Result: ``benchmarks/results/scoring.json``.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import datetime as dt
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)

DAY = dt.date(2026, 11, 2)


def cpu_flags() -> list[str]:
    """The CPU's vector extensions that decide whether bf16/int8 can be fast."""
    try:
        flags = next(
            ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("flags")
        ).split()
    except (OSError, StopIteration):
        return []
    return sorted(f for f in flags if f.startswith(("avx", "amx")) or "vnni" in f)


def machine() -> dict:
    import torch

    return {
        "cpus": os.cpu_count(),
        "cpu_flags": cpu_flags(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "load_average": list(os.getloadavg()),
    }


def build_windows(spec, n: int, distinct: int, seed: int = 11):
    """``n`` windows: ``distinct`` generated ones tiled, ids made unique."""
    from window_factory import make_windows

    from ubsd.io.window_arrays import WindowArrays

    base = make_windows(spec, int(distinct * 0.97), distinct - int(distinct * 0.97), seed=seed)
    reps = -(-n // base.n)
    parts = []
    for r in range(reps):
        p = base.take(np.arange(base.n))
        p.meta["window_id"] = np.array([f"r{r}-{x}" for x in base.meta["window_id"]], dtype=object)
        p.meta["user_id"] = np.array([f"r{r}-{x}" for x in base.meta["user_id"]], dtype=object)
        parts.append(p)
    return WindowArrays.concat(parts).take(np.arange(n))


def train(settings, spec):
    from window_factory import make_windows

    from ubsd.training.trainer import TrainSource, pretrained_encoder, train_model

    tr = make_windows(spec, 1900, 100, seed=1)
    val = make_windows(spec, 380, 20, seed=2, user_prefix="v")
    src = TrainSource(spec.window_length, windows=tr)
    pre = pretrained_encoder(src, val, settings, spec, progress=False)
    return train_model(src, val, settings, spec, progress=False, pretrained=pre).model


def plain_loop(model, feats, batch: int, dtype=None) -> tuple[float, np.ndarray]:
    t = time.perf_counter()
    prob, _ = model.score_arrays(feats, batch_size=batch, autocast_dtype=dtype)
    return time.perf_counter() - t, prob


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--windows", type=int, default=100_000)
    ap.add_argument("--size", default="small", choices=["tiny", "small", "base"])
    ap.add_argument("--distinct", type=int, default=4000, help="distinct generated windows")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--pretrain-steps", type=int, default=40)
    ap.add_argument("--finetune-steps", type=int, default=40)
    ap.add_argument("--explain", type=int, default=500, help="flagged windows explained")
    ap.add_argument("--int8-windows", type=int, default=2000, help="int8 plain-loop subset")
    ap.add_argument(
        "--bf16-windows",
        type=int,
        default=2000,
        help="bf16 plain-loop subset (bf16 is emulated, hence slow, on CPUs without AVX-512 BF16)",
    )
    ap.add_argument("--work", default=str(REPO / "benchmarks" / "work" / "scoring"))
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "scoring.json"))
    args = ap.parse_args(argv)

    import mlflow
    import torch
    from helpers import make_settings
    from sklearn.metrics import average_precision_score
    from test_scoring import write_windows

    from ubsd.io.paths import resolve_under
    from ubsd.io.window_arrays import load_windows
    from ubsd.registry.publish import log_and_register
    from ubsd.runs import RunContext
    from ubsd.scoring import run_scoring
    from ubsd.scoring.reasons import REASON_INPUTS, explain_rows
    from ubsd.sessionize.spec import feature_spec
    from ubsd.spark import get_spark

    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    overrides = [
        f"model.size={args.size}",
        "training.batch_size=32",
        f"training.max_pretrain_steps={args.pretrain_steps}",
        f"training.max_finetune_steps={args.finetune_steps}",
        "training.eval_every=20",
        "training.val_windows=400",
        "training.target_precision=0.8",
        f"scoring.batch_size={args.batch_size}",
        "scoring.explain_max_windows=0",
    ]
    settings = make_settings(work, *overrides)
    spec = feature_spec(settings.sessionize)
    result: dict = {"machine_start": machine(), "args": vars(args)}
    torch.set_num_threads(2)

    t = time.perf_counter()
    model = train(settings, spec)
    result["train_s"] = round(time.perf_counter() - t, 1)
    reg = log_and_register(settings, model, {"bench": "scoring"}, {})
    mlflow.MlflowClient().set_registered_model_alias(reg.name, "champion", reg.version)

    t = time.perf_counter()
    spark = get_spark(settings, "ubsd-scoring-bench")
    result["spark_start_s"] = round(time.perf_counter() - t, 1)
    w = build_windows(spec, args.windows, args.distinct)
    write_windows(spark, settings, w, DAY, spec.version)
    y = w.labels

    def spark_run(s, label):
        t = time.perf_counter()
        out = run_scoring(spark, s, RunContext("score", [DAY]))
        run_s = time.perf_counter() - t
        score_s = out["timings_s"]["score"]
        print(f"[spark {label}] score {score_s:.1f} s, run {run_s:.1f} s", flush=True)
        return {
            "score_s": score_s,
            "run_s": round(run_s, 2),
            "windows_per_s": round(args.windows / score_s, 1),
            "flagged": out["flagged"],
            "timings_s": out["timings_s"],
        }

    spark_cold = spark_run(settings, "cold")
    spark_warm = spark_run(settings, "warm")

    # Plain loop: same model, same windows, two threads in this one process.
    table = resolve_under(settings.storage.root, settings.storage.windows_table)
    t = time.perf_counter()
    arrays = load_windows(spark, table, "delta", spec.window_length, [DAY])
    read_s = time.perf_counter() - t
    feats = arrays.features
    y_tab = np.asarray(arrays.labels)
    fp32_s, prob32 = plain_loop(model, feats, args.batch_size)
    print(f"[plain fp32] {fp32_s:.1f} s", flush=True)
    thr = model.threshold
    precision = {
        "fp32": {
            "windows_per_s": round(arrays.n / fp32_s, 1),
            "pr_auc": round(float(average_precision_score(y_tab, prob32)), 5),
            "flagged": int((prob32 >= thr).sum()),
        }
    }
    kb = min(arrays.n, args.bf16_windows)
    sub16 = {name: a[:kb] for name, a in feats.items()}
    bf_s, prob16 = plain_loop(model, sub16, args.batch_size, torch.bfloat16)
    print(f"[plain bf16] {bf_s:.1f} s on {kb:,} windows", flush=True)
    bf_rate, fp_rate = kb / bf_s, arrays.n / fp32_s
    precision["bf16"] = {
        "windows": kb,
        "windows_per_s": round(bf_rate, 1),
        "speedup_vs_fp32": round(bf_rate / fp_rate, 3),
        "pr_auc_on_subset": round(float(average_precision_score(y_tab[:kb], prob16)), 5),
        "fp32_pr_auc_on_subset": round(float(average_precision_score(y_tab[:kb], prob32[:kb])), 5),
        "flagged": int((prob16 >= thr).sum()),
        "flagged_changed_vs_fp32": int(((prob16 >= thr) != (prob32[:kb] >= thr)).sum()),
        "max_abs_prob_diff": round(float(np.abs(prob16 - prob32[:kb]).max()), 5),
    }
    try:
        from ubsd.scoring.runtime import quantize_int8

        q = dataclasses.replace(model, net=quantize_int8(copy.deepcopy(model.net)))
        k = min(arrays.n, args.int8_windows)  # int8 can be far slower on CPU: a subset
        sub = {name: a[:k] for name, a in feats.items()}
        i8_s, prob8 = plain_loop(q, sub, args.batch_size)
        print(f"[plain int8] {i8_s:.1f} s on {k:,} windows", flush=True)
        precision["int8"] = {
            "windows": k,
            "windows_per_s": round(k / i8_s, 1),
            "speedup_vs_fp32": round((k / i8_s) / (arrays.n / fp32_s), 3),
            "pr_auc_on_subset": round(float(average_precision_score(y_tab[:k], prob8)), 5),
            "fp32_pr_auc_on_subset": round(
                float(average_precision_score(y_tab[:k], prob32[:k])), 5
            ),
            "flagged": int((prob8 >= thr).sum()),
            "flagged_changed_vs_fp32": int(((prob8 >= thr) != (prob32[:k] >= thr)).sum()),
            "quantization": "torchao Int8DynamicActivationInt8WeightConfig (Linear layers)",
        }
    except RuntimeError as exc:
        precision["int8"] = {"unavailable": str(exc)}
    bf16_settings = settings.model_copy(
        update={"scoring": settings.scoring.model_copy(update={"precision": "bf16"})}
    )
    if bf_rate > fp_rate:
        precision["bf16"]["spark"] = spark_run(bf16_settings, "bf16")
    else:
        precision["bf16"]["spark"] = {"skipped": "plain bf16 is slower than fp32 on this CPU"}

    # Reasons, on their own: the highest-probability windows.
    top = np.argsort(-prob32)[: args.explain]
    ids = set(arrays.meta["window_id"][top])
    rows = [
        r.asDict()
        for r in spark.read.format("delta")
        .load(table)
        .where(f"date = '{DAY}'")
        .select(*REASON_INPUTS)
        .collect()
        if r["window_id"] in ids
    ]
    reasons = {}
    for method in ("grad_x_input", "integrated_gradients"):
        cfg = settings.scoring.model_copy(update={"explain_method": method})
        t = time.perf_counter()
        explain_rows(model, rows, cfg)
        s = time.perf_counter() - t
        reasons[method] = {
            "windows": len(rows),
            "seconds": round(s, 2),
            "windows_per_s": round(len(rows) / s, 1),
        }
        print(f"[reasons {method}] {s:.1f} s for {len(rows)}", flush=True)

    plain = {
        "compute_s": round(fp32_s, 2),
        "read_compute_s": round(fp32_s + read_s, 2),
        "windows_per_s": round(arrays.n / fp32_s, 1),
        "windows_per_s_with_read": round(arrays.n / (fp32_s + read_s), 1),
    }
    result.update(
        {
            "windows": args.windows,
            "labels_agree": bool(y is not None and sorted(y) == sorted(y_tab)),
            "model": {"size": args.size, "threshold": thr, "window_length": spec.window_length},
            "spark_cold": spark_cold,
            "spark_warm": spark_warm,
            "plain": plain,
            "ratio_spark_to_plain": round(
                spark_warm["windows_per_s"] / plain["windows_per_s_with_read"], 3
            ),
            "ratio_spark_to_plain_compute_only": round(
                spark_warm["windows_per_s"] / plain["windows_per_s"], 3
            ),
            "precision": precision,
            "reasons": reasons,
            "machine_end": machine(),
        }
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(json.dumps({k: result[k] for k in ("ratio_spark_to_plain", "plain", "spark_warm")}))
    spark.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
