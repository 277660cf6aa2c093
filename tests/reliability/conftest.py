"""Reliability suite: a session-scoped collector every case appends to, written at session end.

The report goes to ``$UBSD_RELIABILITY_REPORT_DIR`` (``make reliability`` sets it to
``benchmarks/results``) as ``reliability.json`` and ``reliability.md``; without the variable it
goes to pytest's temporary folder, so that CI's subset never overwrites the committed report.
With ``UBSD_RELIABILITY_MERGE=1`` the tests run replace their own rows in the existing report
(``make reliability-rerun TESTS=...``, after fixing what a long full run found).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from reliability_report import Collector, write_report

_COLLECTOR = pytest.StashKey[Collector]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_COLLECTOR] = Collector(markexpr=config.option.markexpr or "")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Give each recorded case the outcome of the test that recorded it."""
    report = yield
    collector = item.config.stash.get(_COLLECTOR, None)
    if collector is not None:
        collector.outcome(item.nodeid, report.when, report.outcome, report.duration)
    return report


@pytest.fixture(scope="session")
def collector(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The session's case collector; the report is written when the session's tests are done."""
    col = request.config.stash[_COLLECTOR]
    yield col
    target = os.environ.get("UBSD_RELIABILITY_REPORT_DIR")
    out = Path(target) if target else tmp_path_factory.mktemp("reliability-report")
    paths = write_report(col, out, merge=os.environ.get("UBSD_RELIABILITY_MERGE") == "1")
    print(f"\nreliability report: {', '.join(str(p) for p in paths)}")


@pytest.fixture
def record(collector: Collector, request: pytest.FixtureRequest):
    """``record(case_id, kind, **figures)``: add a case to the report under this test."""

    def _record(case_id: str, kind: str, **figures):
        return collector.add(request.node.nodeid, case_id, kind, **figures)

    return _record
