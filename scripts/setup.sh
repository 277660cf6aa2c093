#!/usr/bin/env bash
# One-time (idempotent) set-up: virtual environment, dependencies, Delta jars in Ivy's cache.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${UBSD_VENV:-.venv}
PY=${UBSD_PYTHON:-python3.11}
stamp="$VENV/.ubsd-installed"
hash=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ]; then
  echo "[setup] $VENV is up to date"
else
  start=$(date +%s)
  echo "[setup] creating $VENV with $PY"
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip uv
  echo "[setup] installing ubsd and dependencies (first time: torch brings several GB)"
  "$VENV/bin/python" -m uv pip install --python "$VENV/bin/python" -e ".[dev]"
  echo "$hash" > "$stamp"
  echo "[setup] python packages installed in $(( $(date +%s) - start )) s"
fi
# Resolve the Delta jars once into Ivy's cache, so that tests and jobs do not pay for it.
warm="$VENV/.ubsd-delta-warm"
if [ ! -f "$warm" ] || [ "$(cat "$warm")" != "$hash" ]; then
  echo "[setup] resolving Delta Lake jars from Maven Central (first time only)"
  "$VENV/bin/python" -m ubsd.spark --warm > "$VENV/warm.log" 2>&1 || {
    tail -n 30 "$VENV/warm.log"; echo "[setup] could not start Spark with Delta (see above)"; exit 1; }
  tail -n 1 "$VENV/warm.log"
  echo "$hash" > "$warm"
fi
