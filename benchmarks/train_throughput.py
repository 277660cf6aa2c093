"""Training throughput of the behavior transformer: windows/s and tokens/s, per model size.

Times pretraining steps (masked-event loss, backward, AdamW) and fine-tuning steps (fraud head,
full) on random windows of the default geometry (L=64), after warm-up steps, on the device the
training code picks (CPU here; a GPU with bf16 autocast where one is visible), and inference
(fraud probability + zero-label score, one pass) for comparison. Writes
``benchmarks/results/train_throughput.json`` (merging sizes already there unless --fresh).

    python benchmarks/train_throughput.py --sizes tiny,small [--steps 20] [--batch 64]

A lent GPU machine runs ``benchmarks/gpu_train.sh`` (small and base, bf16).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from ubsd.config import load_config
from ubsd.io.schemas import WINDOW_FEATURE_ARRAYS
from ubsd.io.window_arrays import WindowArrays
from ubsd.model.vocab import Vocabulary
from ubsd.sessionize.spec import feature_spec
from ubsd.training.device import autocast_dtype, pick_device
from ubsd.training.pretrain import masked_loss
from ubsd.training.tensors import random_hide, to_tensors
from ubsd.training.trainer import new_network

RESULTS = Path(__file__).resolve().parent / "results" / "train_throughput.json"


def random_windows(spec, n: int, seed: int = 0) -> WindowArrays:
    rng = np.random.default_rng(seed)
    length = spec.window_length
    cols = {k: rng.integers(2, spec.vocab_sizes[k], (n, length)) for k in WINDOW_FEATURE_ARRAYS}
    cols["mask"] = np.ones((n, length), dtype=np.int32)
    w = WindowArrays.from_columns(cols, length)
    w.meta["label"] = (rng.random(n) < 0.1).astype(int)
    return w


def bench_size(size: str, steps: int, batch: int, warmup: int) -> dict:
    settings = load_config(None, [f"model.size={size}"])
    spec = feature_spec(settings.sessionize)
    device = pick_device("auto")
    amp = autocast_dtype(device)
    net = new_network(settings, spec).to(device)
    w = random_windows(spec, batch * 4)
    vocab = Vocabulary.build([w.features], spec.vocab_sizes)
    feats, mask = to_tensors(w.take(np.arange(batch)), vocab, device)
    gen = torch.Generator().manual_seed(0)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    y = torch.zeros(batch, device=device)
    out: dict = {
        "size": size,
        "batch": batch,
        "steps": steps,
        "device": str(device),
        "autocast": str(amp),
        "parameters": sum(p.numel() for p in net.parameters()),
    }

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    def pre_step() -> None:
        hide = random_hide(mask, 0.25, gen)
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            loss, _ = masked_loss(net, feats, mask, hide)
        opt.zero_grad()
        loss.backward()
        opt.step()

    def ft_step() -> None:
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            logits = net.fraud_logits(feats, mask)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    @torch.inference_mode()
    def infer_step() -> None:
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            net.score_both(feats, mask)

    net.train()
    for name, fn in (("pretrain", pre_step), ("finetune", ft_step), ("inference", infer_step)):
        if name == "inference":
            net.eval()
        for _ in range(warmup):
            fn()
        sync()
        t0 = time.perf_counter()
        for _ in range(steps):
            fn()
        sync()
        secs = time.perf_counter() - t0
        wps = steps * batch / secs
        out[name] = {
            "windows_per_s": round(wps, 1),
            "tokens_per_s": round(wps * spec.window_length, 1),
            "seconds_per_step": round(secs / steps, 4),
        }
        print(f"{size} {name}: {wps:,.0f} windows/s", flush=True)
    if device.type == "cuda":
        out["peak_gpu_memory_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="tiny,small")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--fresh", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    old = {} if args.fresh or not args.out.exists() else json.loads(args.out.read_text())
    results = dict(old.get("sizes", {}))
    load_before = os.getloadavg()
    for size in args.sizes.split(","):
        key = f"{size}@{'cuda' if torch.cuda.is_available() else 'cpu'}"
        results[key] = bench_size(size, args.steps, args.batch, args.warmup)
        results[key]["load_average_before"] = [round(x, 2) for x in load_before]
        results[key]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    doc = {
        "benchmark": "train_throughput",
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "torch": torch.__version__,
            "threads": args.threads,
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        },
        "window_length": 64,
        "sizes": results,
        "note": "load averages above 2 on this 2-core machine mean other work shared the cores",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
