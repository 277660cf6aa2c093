"""The reliability report: cases recorded by tests, their outcomes, totals; JSON plus Markdown.

A case is one thing tried (a bad input, an injected fault, a rerun comparison, a security check).
Rows lost = rows read minus every bucket a row can end in; it must be 0 for every case.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KINDS = ("bad_input", "fault", "rerun", "scale", "security")
_COUNTS = ("rows_read", "accepted", "quarantined", "duplicate", "filtered", "rows_lost")


@dataclass
class Collector:
    """Cases in the order they were recorded, plus each test's outcome."""

    markexpr: str = ""
    cases: list[dict[str, Any]] = field(default_factory=list)
    tests: dict[str, dict[str, Any]] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    load_at_start: tuple[float, ...] = field(default_factory=lambda: os.getloadavg())

    def add(self, test: str, case_id: str, kind: str, **figures: Any) -> dict[str, Any]:
        if kind not in KINDS:
            raise ValueError(f"unknown case kind {kind!r}; one of {KINDS}")
        case = {"case": case_id, "kind": kind, "test": test, **figures}
        if figures.get("rows_read") is not None and "rows_lost" not in figures:
            ends = sum(figures.get(k) or 0 for k in _COUNTS[1:5])
            case["rows_lost"] = figures["rows_read"] - ends
        self.cases.append(case)
        return case

    def outcome(self, test: str, when: str, outcome: str, duration: float) -> None:
        t = self.tests.setdefault(test, {"status": "passed", "duration_s": 0.0})
        t["duration_s"] = round(t["duration_s"] + duration, 2)
        if outcome == "failed":
            t["status"] = "failed" if when == "call" else f"error in {when}"
        elif outcome == "skipped" and t["status"] == "passed":
            t["status"] = "skipped"

    def finished_cases(self) -> list[dict[str, Any]]:
        out = []
        for case in self.cases:
            test = self.tests.get(case["test"], {})
            out.append({**case, "status": test.get("status", "unknown")})
        return out


def _git_commit() -> str | None:
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        )
        return proc.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def _failing(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"case": c["case"], "test": c["test"], "status": c["status"]}
        for c in cases
        if c["status"] not in ("passed", "skipped")
    ]


def _totals(cases: list[dict[str, Any]], failing_tests: list[str]) -> dict[str, int]:
    by_kind = {k: sum(1 for c in cases if c["kind"] == k) for k in KINDS}
    return {
        "cases": len(cases),
        "bad_input_cases": by_kind["bad_input"],
        "faults_injected": by_kind["fault"],
        "reruns_compared": by_kind["rerun"],
        "scale_cases": by_kind["scale"],
        "security_checks": by_kind["security"],
        "rows_read": sum(c.get("rows_read") or 0 for c in cases),
        "rows_lost": sum(c.get("rows_lost") or 0 for c in cases),
        "failing_cases": len(_failing(cases)),
        "failing_tests": len(failing_tests),
    }


def summarize(col: Collector) -> dict[str, Any]:
    cases = col.finished_cases()
    failing_tests = [t for t, v in col.tests.items() if v["status"] not in ("passed", "skipped")]
    return {
        "report": "reliability",
        "generated_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "selection": col.markexpr or "all (slow included)",
        "command": "make reliability" if not col.markexpr else f'pytest -m "{col.markexpr}"',
        "git_commit": _git_commit(),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_at_start": [round(x, 2) for x in col.load_at_start],
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "runtime_s": round(time.monotonic() - col.started, 1),
        "tests_run": len(col.tests),
        "tests": col.tests,
        "tests_failed": failing_tests,
        "totals": _totals(cases, failing_tests),
        "failing_cases": _failing(cases),
        "cases": cases,
    }


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value).replace("|", "\\|").replace("\n", " ")


def _busy(report: dict[str, Any]) -> bool:
    m = report["machine"]
    return max(m["load_average_at_start"][0], m["load_average_at_end"][0]) > (m["cpus"] or 1) + 1


def markdown(report: dict[str, Any]) -> str:
    t = report["totals"]
    lines = [
        "# Reliability report",
        "",
        f"Generated {report['generated_at']} by `{report['command']}` "
        f"(selection: {report['selection']}; commit {report['git_commit'] or 'unknown'}).",
        f"Runtime {report['runtime_s']} s for {report['tests_run']} tests on "
        f"{report['machine']['cpus']} CPUs (load average at start "
        f"{report['machine']['load_average_at_start'][0]}, at end "
        f"{report['machine']['load_average_at_end'][0]}"
        + (": other jobs shared the machine)." if _busy(report) else ").")
        + "",
        "",
        "| figure | value |",
        "|---|---|",
        *[f"| {k.replace('_', ' ')} | {v} |" for k, v in t.items()],
        "",
    ]
    for r in report.get("reruns", [])[1:]:
        lines += [
            f"Rerun at {r['generated_at']} (commit {r['git_commit']}"
            + (
                f", {r['runtime_s']} s, load average {r['load_average_at_start'][0]} at start, "
                f"{r['load_average_at_end'][0]} at end"
                if "runtime_s" in r
                else ""
            )
            + "): "
            + ", ".join(f"`{t}`" for t in r["tests"]),
            "",
        ]
    if report["failing_cases"] or report["tests_failed"]:
        lines += ["## Failing cases and tests", ""]
        lines += [f"- `{c['case']}` ({c['test']}): {c['status']}" for c in report["failing_cases"]]
        lines += [f"- test `{t}`" for t in report["tests_failed"]]
        lines.append("")
    for kind in KINDS:
        cases = [c for c in report["cases"] if c["kind"] == kind]
        if not cases:
            continue
        lines += [
            f"## {kind.replace('_', ' ').capitalize()} ({len(cases)})",
            "",
            "| case | status | read | accepted | quarantined | duplicate | lost | outcome |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for c in cases:
            lines.append(
                "| "
                + " | ".join(
                    _cell(x)
                    for x in (
                        c["case"],
                        c["status"],
                        c.get("rows_read"),
                        c.get("accepted"),
                        c.get("quarantined"),
                        c.get("duplicate"),
                        c.get("rows_lost"),
                        c.get("outcome"),
                    )
                )
                + " |"
            )
        lines.append("")
    return "\n".join(lines)


def merge_reports(earlier: dict[str, Any], rerun: dict[str, Any]) -> dict[str, Any]:
    """``earlier`` with the tests of ``rerun`` replaced by their new outcomes and cases.

    For rerunning the tests that failed in a long full run (``UBSD_RELIABILITY_MERGE=1``),
    without running the whole suite again; the report says which tests were rerun when.
    """
    again = set(rerun["tests"])
    cases = [c for c in earlier["cases"] if c["test"] not in again] + rerun["cases"]
    tests = {t: v for t, v in earlier.get("tests", {}).items() if t not in again}
    tests.update(rerun["tests"])
    failing_tests = [t for t in earlier["tests_failed"] if t not in again] + rerun["tests_failed"]
    merged = {
        **earlier,
        "generated_at": rerun["generated_at"],
        "command": f"{earlier['command']}, then {len(again)} test(s) rerun and merged",
        "git_commit": rerun["git_commit"],
        "runtime_s": round(earlier["runtime_s"] + rerun["runtime_s"], 1),
        "tests_run": max(earlier["tests_run"], len(tests)),
        "tests": tests,
        "tests_failed": failing_tests,
        "totals": _totals(cases, failing_tests),
        "failing_cases": _failing(cases),
        "cases": cases,
    }
    merged["reruns"] = [
        *earlier.get(
            "reruns",
            [
                {
                    "generated_at": earlier["generated_at"],
                    "git_commit": earlier["git_commit"],
                    "tests": "all",
                }
            ],
        ),
        {
            "generated_at": rerun["generated_at"],
            "git_commit": rerun["git_commit"],
            "runtime_s": rerun["runtime_s"],
            "load_average_at_start": rerun["machine"]["load_average_at_start"],
            "load_average_at_end": rerun["machine"]["load_average_at_end"],
            "tests": sorted(again),
        },
    ]
    return merged


def write_report(col: Collector, folder: Path, merge: bool = False) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    report = summarize(col)
    json_path, md_path = folder / "reliability.json", folder / "reliability.md"
    if merge and json_path.exists():
        report = merge_reports(json.loads(json_path.read_text(encoding="utf-8")), report)
    json_path.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    md_path.write_text(markdown(report), encoding="utf-8")
    return [json_path, md_path]
