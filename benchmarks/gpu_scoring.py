"""GPU scoring measurements for a lent GPU machine (see benchmarks/gpu_scoring.sh).

Per model size (random weights: throughput does not depend on training), on the visible GPU:

* **plain**: bf16-autocast windows/s of ``BehaviorModel.score_arrays`` at several batch sizes,
  with peak GPU memory, and where one batch's time goes: host preparation (vocabulary mapping,
  numpy -> tensor), host-to-device copy, compute (CUDA-synchronised timings);
* **spark**: ``run_scoring`` in local mode (no GPU resource settings: Spark hangs with them in
  local mode; the Python workers see the GPU and use it), Parquet tables (no Delta jar needed
  offline), the model registered in a local sqlite MLflow; plus the same DataFrame through a
  ``predict_batch_udf`` that returns zeros, which is the Spark + Arrow share of the time.

    python benchmarks/gpu_scoring.py --out /tmp/gpu_scoring.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


def random_model(size: str, spec, device: str):
    from ubsd.model.artifact import BehaviorModel
    from ubsd.model.network import BehaviorConfig, BehaviorNet
    from ubsd.model.vocab import Vocabulary

    cfg = BehaviorConfig.for_size(size, spec.window_length, spec.vocab_sizes)
    net = BehaviorNet(cfg).to(device).eval()
    vocab = Vocabulary(
        seen={k: tuple(range(n)) for k, n in spec.vocab_sizes.items()}, sizes=spec.vocab_sizes
    )
    return BehaviorModel(
        net=net,
        spec=spec,
        vocab=vocab,
        threshold=0.5,
        zero_label_threshold=1.0,
        has_classifier=True,
        mode="full",
        info={"trained_id": f"random-{size}"},
    )


def random_features(spec, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    feats = {
        k: rng.integers(2, v, (n, spec.window_length)).astype(np.int32)
        for k, v in spec.vocab_sizes.items()
    }
    feats["mask"] = np.ones((n, spec.window_length), np.int32)
    return feats


def plain(model, feats, batch_sizes, n: int) -> dict:
    import torch

    out = {}
    for bs in batch_sizes:
        torch.cuda.reset_peak_memory_stats()
        model.score_arrays({k: v[:bs] for k, v in feats.items()}, bs, "cuda", torch.bfloat16)
        torch.cuda.synchronize()
        t = time.perf_counter()
        model.score_arrays(feats, bs, "cuda", torch.bfloat16)
        torch.cuda.synchronize()
        total = time.perf_counter() - t
        # One batch, step by step.
        part = {k: v[:bs] for k, v in feats.items()}
        t0 = time.perf_counter()
        cpu_feats, cpu_mask = model.tensors(part, "cpu")
        t1 = time.perf_counter()
        g = {k: v.to("cuda", non_blocking=False) for k, v in cpu_feats.items()}
        m = cpu_mask.to("cuda")
        torch.cuda.synchronize()
        t2 = time.perf_counter()
        with torch.inference_mode(), torch.autocast("cuda", torch.bfloat16):
            model.net.score_both(g, m)
        torch.cuda.synchronize()
        t3 = time.perf_counter()
        out[str(bs)] = {
            "windows_per_s": round(n / total, 1),
            "peak_gpu_mib": round(torch.cuda.max_memory_allocated() / 2**20, 1),
            "batch_host_prep_ms": round((t1 - t0) * 1e3, 2),
            "batch_h2d_ms": round((t2 - t1) * 1e3, 2),
            "batch_compute_ms": round((t3 - t2) * 1e3, 2),
        }
        print(size_tag(model), bs, out[str(bs)], flush=True)
    return out


def size_tag(model) -> str:
    return model.net.config.size_name


def spark_path(size: str, model, spec, n: int, root: Path, batch: int, cores: int) -> dict:
    import datetime as dt

    import mlflow
    from helpers import make_settings
    from pyspark.ml.functions import predict_batch_udf
    from pyspark.sql.types import FloatType
    from test_scoring import write_windows
    from window_factory import make_windows

    from ubsd.io.window_arrays import WindowArrays
    from ubsd.registry.publish import log_and_register
    from ubsd.runs import RunContext
    from ubsd.scoring import run_scoring
    from ubsd.scoring.udf import packed_inputs
    from ubsd.spark import get_spark

    day = dt.date(2026, 11, 2)
    settings = make_settings(
        root / size,
        "storage.format=parquet",
        f"spark.master=local[{cores}]",
        f"spark.shuffle_partitions={cores}",
        f"scoring.batch_size={batch}",
        f"scoring.arrow_batch_size={batch}",
        "scoring.explain_max_windows=0",
        f"scoring.partitions={cores}",
    )
    reg = log_and_register(settings, model, {"bench": "gpu"}, {})
    mlflow.MlflowClient().set_registered_model_alias(reg.name, "champion", reg.version)
    spark = get_spark(settings, "ubsd-gpu-bench")
    base = make_windows(spec, 2000, 60, seed=3)
    reps = -(-n // base.n)
    parts = []
    for r in range(reps):
        p = base.take(np.arange(base.n))
        p.meta["window_id"] = np.array([f"r{r}-{x}" for x in base.meta["window_id"]], object)
        parts.append(p)
    write_windows(spark, settings, WindowArrays.concat(parts).take(np.arange(n)), day, spec.version)
    runs = []
    for _ in range(2):
        s = run_scoring(spark, settings, RunContext("score", [day]))
        runs.append(s["timings_s"])
        print(size, "spark", s["timings_s"], s["device"], flush=True)
    df = spark.read.parquet(str(root / size / "tables" / "windows")).repartition(cores)

    def make():
        def predict(x):
            return np.zeros(x.shape[0], np.float32)

        return predict

    noop = predict_batch_udf(
        make,
        return_type=FloatType(),
        batch_size=batch,
        input_tensor_shapes=[[11, spec.window_length]],
    )
    t = time.perf_counter()
    df.select(noop(packed_inputs()).alias("z")).agg({"z": "sum"}).collect()
    noop_s = time.perf_counter() - t
    spark.stop()
    warm = runs[-1]["score"]
    return {
        "cores": cores,
        "batch_size": batch,
        "windows": n,
        "score_s_cold": runs[0]["score"],
        "score_s_warm": warm,
        "windows_per_s": round(n / warm, 1),
        "spark_arrow_noop_s": round(noop_s, 2),
        "spark_arrow_share": round(noop_s / warm, 3),
    }


def main() -> int:
    import torch

    from ubsd.config import SessionizeSettings
    from ubsd.sessionize.spec import feature_spec

    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", nargs="+", default=["small", "base"])
    ap.add_argument("--batch-sizes", nargs="+", type=int, default=[256, 1024, 4096, 16384])
    ap.add_argument("--windows", type=int, default=200_000)
    ap.add_argument("--spark-windows", type=int, default=200_000)
    ap.add_argument("--spark-cores", type=int, default=4)
    ap.add_argument("--spark-batch", type=int, default=4096)
    ap.add_argument("--work", default="/tmp/ubsd-gpu-bench")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "gpu_scoring.json"))
    ap.add_argument("--no-spark", action="store_true")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("no GPU visible", file=sys.stderr)
        return 2
    spec = feature_spec(SessionizeSettings())
    feats = random_features(spec, args.windows)
    result: dict = {
        "gpu": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "windows": args.windows,
        "sizes": {},
    }
    for size in args.sizes:
        model = random_model(size, spec, "cuda")
        entry = {"plain_bf16": plain(model, feats, args.batch_sizes, args.windows)}
        if not args.no_spark:
            try:
                entry["spark"] = spark_path(
                    size,
                    model,
                    spec,
                    args.spark_windows,
                    Path(args.work),
                    args.spark_batch,
                    args.spark_cores,
                )
            except Exception as exc:  # report and keep the plain figures
                entry["spark"] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
        result["sizes"][size] = entry
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
