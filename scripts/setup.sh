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

# --- Airflow: its own virtual environment ------------------------------------------------------
# The Spark provider pulls pyspark-client, which installs into the same pyspark/ folder as the
# job venv's full pyspark, so Airflow gets .venv-airflow (airflow_dags/requirements.txt). Its
# spark-submit and Python come from $VENV (see docs/airflow.md). UBSD_SKIP_AIRFLOW=1 skips this.
AF_VENV=${UBSD_AIRFLOW_VENV:-.venv-airflow}
af_stamp="$AF_VENV/.ubsd-airflow-installed"
af_hash=$(cat airflow_dags/requirements.txt | sha256sum | cut -c1-16)
if [ "${UBSD_SKIP_AIRFLOW:-0}" = "1" ]; then
  echo "[setup] skipping the Airflow environment (UBSD_SKIP_AIRFLOW=1)"
elif [ -f "$af_stamp" ] && [ "$(cat "$af_stamp")" = "$af_hash" ]; then
  echo "[setup] $AF_VENV is up to date"
else
  start=$(date +%s)
  echo "[setup] creating $AF_VENV (Airflow 3, Spark provider) with $PY"
  [ -x "$AF_VENV/bin/python" ] || "$PY" -m venv "$AF_VENV"
  "$VENV/bin/python" -m uv pip install --python "$AF_VENV/bin/python" -r airflow_dags/requirements.txt
  echo "$af_hash" > "$af_stamp"
  echo "[setup] Airflow installed in $(( $(date +%s) - start )) s"
fi
