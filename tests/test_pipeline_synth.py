"""Generator -> ingest -> sessionize on the `ci` profile: counts reconcile with the manifest."""

from __future__ import annotations

import pytest
from helpers import make_settings

from ubsd.ingest import run_ingest
from ubsd.io.schemas import EVENTS_SCHEMA, WINDOWS_SCHEMA
from ubsd.io.tables import read_table
from ubsd.runs import RunContext, run_dates
from ubsd.sessionize import run_sessionize
from ubsd.synth import FRAUD_TYPES, generate, get_profile


@pytest.fixture(scope="module")
def ci_run(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("ci_pipeline")
    manifest = generate(get_profile("ci"), root, fmt="json")
    settings = make_settings(root, "storage.labels_path=labels")
    dates = run_dates(start=manifest.dates[0], end=manifest.dates[-1])
    ingest = run_ingest(spark, settings, RunContext("ingest", dates))
    sess = run_sessionize(spark, settings, RunContext("sessionize", dates))
    return manifest, settings, ingest, sess


def test_ingest_matches_the_generator_manifest(ci_run):
    manifest, _, ingest, _ = ci_run
    assert ingest["rows_read"] == sum(manifest.rows_written_per_date.values())
    assert ingest["accepted"] == manifest.events
    assert ingest["duplicate"] == manifest.exact_duplicates
    assert ingest["quarantine_reasons"] == manifest.expected_quarantine()
    assert ingest["accepted_per_date"] == manifest.events_per_date
    assert ingest["reconciled"]


def test_every_event_lands_in_exactly_one_session_and_some_window(spark, ci_run):
    _manifest, settings, _, sess = ci_run
    root, fmt = settings.storage.root, settings.storage.format
    windows = read_table(spark, f"{root}/tables/windows", fmt, WINDOWS_SCHEMA)
    events = read_table(spark, f"{root}/tables/events", fmt, EVENTS_SCHEMA)
    pairs = windows.selectExpr("session_id", "explode(event_ids) AS event_id").where(
        "event_id IS NOT NULL"
    )
    per_event = pairs.groupBy("event_id").agg({"session_id": "approx_count_distinct"})
    assert per_event.where("`approx_count_distinct(session_id)` != 1").count() == 0
    # Sessions that start on the first date are complete; only the earliest events of sessions
    # crossing into a later date can sit in windows owned by an earlier date (both are here).
    assert pairs.select("event_id").distinct().count() == events.count()
    assert sess["max_events_in_window"] <= 64


def test_each_fraud_type_reaches_positive_windows(spark, ci_run):
    _, settings, _, sess = ci_run
    windows = read_table(
        spark, f"{settings.storage.root}/tables/windows", settings.storage.format, WINDOWS_SCHEMA
    )
    types = {r["fraud_type"] for r in windows.where("label = 1").select("fraud_type").collect()}
    assert types == set(FRAUD_TYPES)
    assert windows.where("label = 0 AND fraud_type IS NOT NULL").count() == 0
    assert 0 < sess["positive_windows"] < sess["windows"]
