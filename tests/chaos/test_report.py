"""scripts/chaos_report.py: the results → summary → docs/reliability.md chain, and its freshness."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.runner import RESULTS, ScenarioResult, percentiles
from tests.deploy.manifests import load_script

ROOT = Path(__file__).resolve().parents[2]
report = load_script(ROOT / "scripts" / "chaos_report.py", "chaos_report")

_VERDICT = {
    "status": "SUCCEEDED",
    "tasks": 8,
    "attempts": 9,
    "results": 8,
    "artifacts": 8,
    "llm_calls": 9,
    "lost": 0,
    "duplicated": 0,
    "orphans": 0,
    "paid_twice": 0,
    "ledger_rows": 49,
    "ledger_ok": True,
}


def _results(directory: Path, name: str, recoveries: list[float]) -> None:
    result = ScenarioResult(name, seed=42, iterations=len(recoveries))
    result.records = [
        {
            "i": i,
            "ok": True,
            "error": "",
            "run_id": f"r{i}",
            "fault": {},
            "recovery_s": r,
            "verdict": _VERDICT,
        }
        for i, r in enumerate(recoveries)
    ]
    result.write(directory)


def test_percentiles_are_nearest_rank_values() -> None:
    values = [float(v) for v in range(1, 21)]
    assert percentiles(values) == {
        "min": 1.0,
        "p50": 10.0,
        "p90": 18.0,
        "p99": 20.0,
        "max": 20.0,
        "mean": 10.5,
    }
    assert percentiles([3.0]) == {"min": 3.0, "p50": 3.0, "p90": 3.0, "p99": 3.0, "max": 3.0, "mean": 3.0}


def test_results_become_a_summary_and_a_table(tmp_path: Path) -> None:
    _results(tmp_path, "host_kill", [1.0, 2.0, 3.0, 4.0])
    _results(tmp_path, "pg_restart_fast", [0.5])
    summary = report.summarize(tmp_path)
    assert [s["scenario"] for s in summary["scenarios"]] == ["host_kill", "pg_restart_fast"]  # suite order
    host_kill = summary["scenarios"][0]
    assert host_kill["passed"] == 4 and host_kill["recovery_s"]["p50"] == 2.0
    assert host_kill["invariants"] == {"lost": 0, "duplicated": 0, "orphans": 0, "paid_twice": 0}
    doc = report.render(summary)
    assert "**5 iterations held** across 2 scenarios" in doc
    assert "| `host_kill` | 4 | 4 | 2.00 | 4.00 | 4.00 | 4.00 | SUCCEEDED | 0 | 0 | 0 | 0 | verifies |" in doc
    assert "kill -9 the agent host" in doc  # the scenario's own description
    assert "No soak result yet" in doc


def test_a_partial_rerun_keeps_the_rest_of_the_previous_summary(tmp_path: Path) -> None:
    _results(tmp_path, "host_kill", [1.0])
    previous = report.summarize(tmp_path)
    (tmp_path / "host_kill.json").unlink()
    _results(tmp_path, "poison", [20.0])
    (tmp_path / "soak.json").write_text(json.dumps(_soak()), encoding="utf-8")
    summary = report.summarize(tmp_path, previous)
    assert [s["scenario"] for s in summary["scenarios"]] == ["host_kill", "poison"]
    doc = report.render(summary)
    assert (
        "10 minutes (seed 7): 120 runs completed under 30 random faults (20 host_kill, 10 pg_restart_fast)"
        in doc
    )
    assert "| host-1.1 | 590.0 | 80.0 → 84.0, 90.0 | 4.0 | 20 → 21, 25 | 1 |" in doc


def test_no_results_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert report.main(["--results", str(tmp_path), "--doc", str(tmp_path / "r.md")]) == 2
    assert "no results" in capsys.readouterr().err


def test_the_committed_document_matches_the_committed_summary() -> None:
    summary = json.loads((RESULTS / "summary.json").read_text(encoding="utf-8"))
    assert (ROOT / "docs" / "reliability.md").read_text(encoding="utf-8") == report.render(summary), (
        "docs/reliability.md is stale: python scripts/chaos_report.py --from-summary"
    )
    assert all(s["passed"] == s["iterations"] >= 20 for s in summary["scenarios"]), "make chaos did not hold"


def _soak() -> dict[str, Any]:
    return {
        "seconds": 600,
        "seed": 7,
        "runs": 120,
        "faults": 30,
        "faults_by_kind": {"host_kill": 20, "pg_restart_fast": 10, "model_burst": 0},
        "recovery_s": percentiles([1.0, 2.0]),
        "invariants": {"lost": 0, "duplicated": 0, "orphans": 0, "paid_twice": 0},
        "ledger_ok": True,
        "processes": [
            {
                "process": "host-1.1",
                "pid": 1,
                "lifetime_s": 590.0,
                "rss_mb": [80.0, 84.0, 90.0],
                "fds": [20, 21, 25],
                "rss_growth_mb": 4.0,
                "fd_growth": 1,
            }
        ],
        "bounds": {"rss_growth_mb": 64.0, "fd_growth": 32},
        "over_bounds": [],
        "failures": [],
    }
