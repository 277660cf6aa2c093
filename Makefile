# The two commands of the README:
#   make demo   install (first time), then generate -> ingest -> sessionize on local defaults
#   make test   install (first time), then lint, layer contracts and the fast test suite
# Both run scripts/setup.sh first, which is a no-op when the environment is up to date.

PY := .venv/bin/python
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true
export PYSPARK_PYTHON := $(CURDIR)/$(PY)
export PYSPARK_DRIVER_PYTHON := $(CURDIR)/$(PY)

.PHONY: setup demo test test-all lint bench clean

setup:
	@bash scripts/setup.sh

demo: setup
	$(PY) jobs/demo.py --conf-file conf/local.yaml

lint: setup
	.venv/bin/ruff check ubsd jobs tests benchmarks airflow_dags
	.venv/bin/ruff format --check ubsd jobs tests benchmarks airflow_dags
	.venv/bin/lint-imports

# Fast, meaningful set for CI (slow-marked tests excluded); exit code 5 (no tests) is an error.
test: lint
	bash scripts/run_tests.sh -m "not slow" --durations=20

# Everything, slow scale tests included.
test-all: lint
	bash scripts/run_tests.sh

bench: setup
	$(PY) benchmarks/sessionize_bench.py
	$(PY) benchmarks/synth_throughput.py

clean:
	rm -rf data runs spark-warehouse

# Reliability and security suite, slow cases included (about an hour on 2 cores); writes
# benchmarks/results/reliability.{json,md}. CI runs its fast subset within `make test`.
.PHONY: reliability
reliability: setup
	UBSD_RELIABILITY_REPORT_DIR=benchmarks/results bash scripts/run_tests.sh tests/reliability

# Rerun some reliability tests (TESTS="nodeid ...") and merge their rows into the committed report.
.PHONY: reliability-rerun
reliability-rerun: setup
	UBSD_RELIABILITY_REPORT_DIR=benchmarks/results UBSD_RELIABILITY_MERGE=1 bash scripts/run_tests.sh $(TESTS)

# The library as a wheel (cluster images) and a zip for spark-submit --py-files (docs/jobs.md).
.PHONY: dist airflow-test
dist: setup
	bash scripts/build_dist.sh dist

# Only the Airflow tests (Airflow's own venv; `make test` runs them too, via the main suite).
airflow-test: setup
	.venv-airflow/bin/python -m pytest tests/airflow -m "not slow"
