"""Smoke test of the pipeline benchmark: the todo example embedded and distributed, a slow model.

No number is asserted, only that each path completes over real processes and servers —
the embedded runtime, an orchestrator + agent host on PostgreSQL and Redis, agents on the
real anthropic SDK against the local delayed Messages API server — and that the figures
are consistent: the critical path never exceeds the wall time, and the realized chain's
parts add up to it. The docs render a pipeline section from the results.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench._pipeline_runs import distributed, embedded
from bench._results import save
from tests.bench.docs import render_docs

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

ROOT = Path(__file__).resolve().parents[2]
PARTS = ("work", "reaction", "slot_wait", "queue_wait", "head", "tail")


@pytest.fixture
def bench_env(pg_url: str, redis_url: str) -> Iterator[None]:
    """Point the bench at the test servers."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BENCH_PG_URL", pg_url)
        mp.setenv("BENCH_REDIS_URL", redis_url)
        yield


def _consistent(row: dict[str, Any], phases: int) -> None:
    assert row["status"] == "SUCCEEDED" and len(row["per_phase"]) == phases
    assert row["tasks"] >= phases and row["model_calls"] >= row["tasks"]
    assert 0 < row["critical_path_s"] <= row["run_wall_s"] + 1e-6
    assert 0 < row["parallel_efficiency"] <= 1.0 + 1e-6
    assert row["critical_path"][0].startswith("intake/")
    assert sum(row["realized_chain"][k] for k in PARTS) == pytest.approx(row["run_wall_s"], abs=1e-6)
    for p in row["per_phase"].values():
        assert p["overhead_s"] >= 0 and p["agent_busy_s"] > 0


async def test_embedded_offline_and_distributed_slow_model(bench_env: None, tmp_path: Path) -> None:
    emb = await embedded("todo-app")
    _consistent(emb, 4)
    assert emb["model_call_s"] < emb["run_wall_s"]

    [dist] = await distributed(["todo-app"], hosts=1, concurrency=4, delay_s=0.02)
    _consistent(dist, 4)
    assert dist["model_call_s"] >= 0.02 * dist["model_calls"]  # every call went through the slow server

    results = tmp_path / "results"
    doc = {"hosts": 1, "examples": [emb], "distributed": [dist]}
    save("pipeline", {**doc, "slow_model": {"delay_ms": 20, "embedded": [], "distributed": [dist]}}, results)
    done = render_docs(results, tmp_path)
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "benchmarks.md").read_text()
    assert "## Pipeline wall time" in page and "### With a model taking 20 ms per call" in page
    assert "| todo-app | distributed, 1 hosts |" in page


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--examples", "blog"], "--examples takes a comma list"),
        (["--hosts", "0"], "--hosts"),
        (["--delay-ms", "soon"], "invalid int value"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(argv: list[str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.pipeline", *argv], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
