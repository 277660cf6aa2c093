#!/usr/bin/env bash
# Scoring on a lent GPU machine: bf16 windows/s per batch size (small, base), the Spark job in
# local mode on the GPU, peak GPU memory, and where a batch's time goes.
#
# Needs the project's environment on that machine (a CUDA torch build, pyspark, mlflow; see
# scripts/setup.sh), Java 17 for the Spark part. Tables are Parquet there, so no Maven access is
# needed for the Delta jar. Results: $OUT/gpu_scoring.json when OUT is set (device runs), else
# benchmarks/results/gpu_scoring.json.
#   bash benchmarks/gpu_scoring.sh                 # everything (~5-8 min on an H100/H200)
#   bash benchmarks/gpu_scoring.sh --no-spark      # model only, no Java needed
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
export PYTHONUNBUFFERED=1 MLFLOW_DISABLE_TELEMETRY=true
export PYSPARK_PYTHON="$PY" PYSPARK_DRIVER_PYTHON="$PY"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
out=${OUT:-benchmarks/results}/gpu_scoring.json
timeout 540 "$PY" benchmarks/gpu_scoring.py --out "$out" "$@"
