"""Augmentation ablation and fusion, on the benchmark-v1 split of ``eval_report.py``.

Every variant fine-tunes the same pretrained encoder (one ``PretrainCache``) on the same
time/user split, so the rows differ only in what the row names:

- ``none``: no augmentation (the shipped default);
- ``event_mask``, ``crop``, ``time_jitter``, ``inject``: that augmentation alone;
- ``all``: the four together;
- ``fused``: no augmentation, the probability stacked with the zero-label score
  (``FusedDetector``), to answer whether fusion helps.

    .venv/bin/python benchmarks/ablation.py     # writes benchmarks/results/ablation.{json,md}

Uses the prepared data cached by ``eval_report.py`` (run it, or ``--prepare-only``, first).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

#: The augmentation strengths tried (each alone, then together).
AUGMENTATIONS = {
    "event_mask": ["training.aug_event_mask=0.15"],
    "crop": ["training.aug_crop=true"],
    "time_jitter": ["training.aug_time_jitter=0.2"],
    "inject": ["training.aug_inject=0.1"],
}
KEYS = ("roc_auc", "pr_auc", "f1", "recall_at_1pct_fpr", "precision", "recall")


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="benchmark-v1")
    ap.add_argument("--events", type=int, default=600_000)
    ap.add_argument("--work", type=Path, default=REPO / "benchmarks/work/eval")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks/results")
    ap.add_argument("--variants", nargs="*", default=None)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args(argv)

    from eval_report import CPU_TRANSFORMER, _git, _machine, load, prepare

    from ubsd.config import load_config
    from ubsd.evaluation.report import evaluate
    from ubsd.training.detector import FusedDetector, PretrainCache, TransformerDetector
    from ubsd.training.splits import split_windows

    t_all = time.perf_counter()
    windows = load(prepare(args.profile, args.events, args.work))
    split = split_windows(windows)  # the eval_report defaults: 0.6 of dates, 0.2/0.3 users
    _log(f"split: {split.summary['windows']}")
    base = [*CPU_TRANSFORMER, *args.set]
    cache = PretrainCache()

    def variant(extra: list[str], fused: bool = False):
        settings = load_config(None, [*base, *extra])
        if fused:
            return lambda: FusedDetector(settings, cache)
        return lambda: TransformerDetector(settings, "full", cache)

    all_on = [o for opts in AUGMENTATIONS.values() for o in opts]
    factories = {
        "none": variant([]),
        **{name: variant(opts) for name, opts in AUGMENTATIONS.items()},
        "all": variant(all_on),
        "fused": variant([], fused=True),
    }
    if args.variants:
        factories = {k: v for k, v in factories.items() if k in args.variants}
    tp = load_config(None, base).training.target_precision
    result = evaluate(factories, split, tp, 0.01, log=_log)
    rows = {}
    for name, m in result["methods"].items():
        rows[name] = {k: m.get(k) for k in KEYS}
        rows[name]["per_type_recall_at_1pct_fpr"] = {
            t: v.get("recall_at_1pct_fpr") for t, v in (m.get("per_type") or {}).items()
        }
        det = result["_fitted"][name][0].describe()
        rows[name]["finetune"] = det.get("finetune")
        if "stack_weights" in det:
            rows[name]["stack_weights"] = det["stack_weights"]
    out = {
        "benchmark": "ablation",
        "title": f"{args.profile}: augmentation ablation and fusion (transformer_full)",
        "augmentations": AUGMENTATIONS,
        "variants": rows,
        "pretrain": cache.facts,
        "transformer_settings": base,
        "split": split.summary["windows"],
        "git": _git(),
        "machine": _machine(),
        "load_average": list(os.getloadavg()),
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "total_seconds": round(time.perf_counter() - t_all, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ablation.json").write_text(json.dumps(out, indent=2, default=str) + "\n")
    lines = [
        f"# {out['title']}",
        "",
        "Same pretrained encoder and split for every row; tiny model, CPU step caps "
        f"({', '.join(base)}).",
        "",
        "| variant | ROC-AUC | PR-AUC | F1 | recall@1%FPR |",
        "|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['roc_auc']} | {r['pr_auc']} | {r['f1']} | {r['recall_at_1pct_fpr']} |"
        )
    types = sorted({t for r in rows.values() for t in r["per_type_recall_at_1pct_fpr"]})
    lines += ["", "Recall at 1 % FPR per fraud type:", ""]
    lines += ["| variant | " + " | ".join(types) + " |", "|---" * (len(types) + 1) + "|"]
    for name, r in rows.items():
        cells = " | ".join(str(r["per_type_recall_at_1pct_fpr"].get(t)) for t in types)
        lines.append(f"| {name} | {cells} |")
    (args.out / "ablation.md").write_text("\n".join(lines) + "\n")
    _log(f"wrote {args.out / 'ablation.json'} ({out['total_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
