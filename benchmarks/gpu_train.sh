#!/usr/bin/env bash
# For a lent GPU machine: training throughput of small and base in bf16 (and tiny for scale).
# Run from the repository root after `bash scripts/setup.sh`; results merge into
# benchmarks/results/train_throughput.json under "<size>@cuda".
set -euo pipefail
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,memory.total --format=csv
.venv/bin/python benchmarks/train_throughput.py --sizes tiny,small,base --steps 50 --warmup 5 --batch 256
