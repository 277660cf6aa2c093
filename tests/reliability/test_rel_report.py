"""The report's merge: rerun tests replace their own rows, every other row is kept."""

from __future__ import annotations

from reliability_report import Collector, merge_reports, summarize


def _run(outcomes: dict[str, str], rows: dict[str, int]) -> dict:
    col = Collector()
    for test, outcome in outcomes.items():
        col.add(test, f"case-{test}", "bad_input", rows_read=rows[test], accepted=rows[test])
        col.outcome(test, "call", outcome, 1.0)
    return summarize(col)


def test_rerun_replaces_only_its_tests():
    earlier = _run({"a": "passed", "b": "failed", "c": "failed"}, {"a": 5, "b": 7, "c": 1})
    rerun = _run({"b": "passed"}, {"b": 9})
    merged = merge_reports(earlier, rerun)
    assert sorted((c["test"], c["status"], c["rows_read"]) for c in merged["cases"]) == [
        ("a", "passed", 5),
        ("b", "passed", 9),
        ("c", "failed", 1),
    ]
    assert merged["tests_failed"] == ["c"]
    assert merged["totals"]["rows_read"] == 15 and merged["totals"]["failing_tests"] == 1
    assert merged["reruns"][-1]["tests"] == ["b"]
    assert merged["reruns"][-1]["runtime_s"] == rerun["runtime_s"]
    assert (
        merged["reruns"][-1]["load_average_at_start"] == rerun["machine"]["load_average_at_start"]
    )
    again = merge_reports(merged, _run({"c": "passed"}, {"c": 1}))
    assert again["totals"]["failing_tests"] == 0 and len(again["reruns"]) == 3


def test_a_case_without_rows_has_no_rows_lost():
    """Faults on tables of windows read no input rows (rows_read=None): nothing to reconcile."""
    case = Collector().add("t", "sigkill_sessionize", "fault", rows_read=None)
    assert "rows_lost" not in case
