"""End-to-end throughput of the synthetic data generator, per output format.

Generates about ``--events`` events (``benchmark-v1`` resized with ``ubsd.synth.scaled``) into a
temporary folder in each format, and writes ``benchmarks/results/synth.json``. Time covers the
whole ``generate`` call: simulation, text rendering, injection, raw files, labels and manifest.
A small warm-up run first keeps one-off import costs out of the figures.

    python benchmarks/synth_throughput.py [--events 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from ubsd.synth import generate, get_profile, scaled

RESULTS = Path(__file__).resolve().parent / "results" / "synth.json"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="benchmark-v1")
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3, help="runs per format; the best counts")
    ap.add_argument("--formats", default="parquet,json")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)

    profile = scaled(get_profile(args.profile), args.events)
    results: dict[str, dict[str, float | int]] = {}
    with tempfile.TemporaryDirectory(prefix="ubsd-synth-bench-") as tmp:
        generate("ci", Path(tmp) / "warmup", fmt="json")
        for fmt in args.formats.split(","):
            runs = []
            for i in range(max(args.repeat, 1)):
                t0 = time.perf_counter()
                m = generate(profile, Path(tmp) / f"{fmt}-{i}", fmt=fmt)
                runs.append(time.perf_counter() - t0)
            rows = sum(m.rows_written_per_date.values())
            best = min(runs)
            results[fmt] = {
                "events": m.events,
                "rows_written": rows,
                "seconds": round(best, 3),
                "events_per_s": round(m.events / best),
                "all_seconds": [round(r, 3) for r in runs],
                "bytes_written": sum(
                    f.stat().st_size for f in (Path(tmp) / f"{fmt}-{i}").rglob("*") if f.is_file()
                ),
            }
            print(
                f"{fmt:>8}: {m.events:,} events in {best:.2f} s "
                f"= {m.events / best:,.0f} events/s (runs: {', '.join(f'{r:.2f}' for r in runs)})"
            )
    report = {
        "profile": profile.name,
        "profile_version": profile.version,
        "n_users": profile.n_users,
        "days": profile.days,
        "target_events": args.events,
        "results": results,
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_1m_at_end": round(os.getloadavg()[0], 2),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "pyarrow": pa.__version__,
            "platform": platform.platform(),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
