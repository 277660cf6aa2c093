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
# Resolve the Delta jars once, so that tests and jobs do not pay for it (no-op when cached).
"$VENV/bin/python" -m ubsd.spark --warm
