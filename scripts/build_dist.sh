#!/usr/bin/env bash
# Build the artifacts that ship ubsd to Spark executors (`make dist`):
#   dist/ubsd-<ver>-py3-none-any.whl   pip-installable (cluster images, the Airflow workers' job venv)
#   dist/ubsd-<ver>.zip                the same pure-Python wheel under a .zip name, for --py-files:
#                                      PySpark puts .zip/.egg files on the executors' Python path,
#                                      but not .whl files.
#   dist/ubsd-<ver>.tar.gz             the source distribution the wheel is built from
# The wheel is built from the sdist (not the working tree's build/ folder), so no stale module can
# slip in. Usage: scripts/build_dist.sh [OUT_DIR]   (default: dist)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist}
mkdir -p "$out"
rm -f "$out"/ubsd-*.whl "$out"/ubsd-*.zip "$out"/ubsd-*.tar.gz
.venv/bin/uv build --quiet --no-build-isolation --python .venv/bin/python --out-dir "$out" .
wheel=$(ls "$out"/ubsd-*-py3-none-any.whl)
version=$(basename "$wheel" | cut -d- -f2)
cp "$wheel" "$out/ubsd-$version.zip"
echo "[dist] $wheel"
echo "[dist] $out/ubsd-$version.zip  (spark-submit --py-files)"
