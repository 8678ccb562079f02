"""Smoke test of the distributed benchmarks: every script's path runs at tiny sizes.

No number is asserted (that is ``bench/``'s job, never a test's): only that each
measurement completes over real processes — an orchestrator and agent hosts on
PostgreSQL and Redis — and returns well-formed figures, that the docs render from the
results, and that bad command-line input exits 2 with a message. One stack serves the
recovery, throughput, latency and scale paths, in that order (the recovery kill leaves
its survivor as the stack's host), to keep the module well under a minute.
"""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bench import ceiling, latency, recovery, scale, throughput
from bench._results import save
from bench._stack import Stack
from bench.peers import _venv, celery_bench, temporal_bench
from tests.bench.docs import render_docs

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
#: the async tests share the module's event loop (the stack fixture lives in it)
in_module_loop = pytest.mark.asyncio(loop_scope="module")

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench_env(pg_url: str, redis_url: str) -> Iterator[None]:
    """Point the bench at the test servers."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BENCH_PG_URL", pg_url)
        mp.setenv("BENCH_REDIS_URL", redis_url)
        yield


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(bench_env: None) -> AsyncIterator[Stack]:
    """Orchestrator + one agent host with short leases (the recovery path needs them)."""
    async with Stack(hosts=1, concurrency=8, lease_seconds=2.0, heartbeat_seconds=0.5) as s:
        yield s


def _is_latency(figures: dict[str, Any], n: int) -> bool:
    return figures["n"] == n and all(
        isinstance(figures[k], float) and not math.isnan(figures[k]) for k in ("p50", "p99")
    )


@in_module_loop
async def test_distributed_paths_and_docs(stack: Stack, tmp_path: Path) -> None:
    rec = await recovery.measure_on(stack, 4, sleep_s=60)
    assert rec["moved"] == 4 and rec["all_done_s"] >= rec["all_running_elsewhere_s"] > 0

    thr = await throughput.measure_stack(stack, 12, 2)
    assert thr["tasks"] == 12 and _is_latency(thr["queue_wait_ms"], 12) and thr["tasks_per_s"] > 0
    assert {"orchestrator", "agent-host-1", "agent-host-2"} <= set(thr["cpu_s"])

    run_ids = [await stack.holder_run()]
    lat = await latency.paced(stack, run_ids, 40, 0.25, 4)
    assert lat["tasks"] > 0 and _is_latency(lat["submit_to_start_ms"], lat["tasks"])

    grown = await scale.grow(stack, [2], 6, 1)
    assert grown["2"]["hosts"] == 3 and grown["2"]["tasks"] == 6  # the killed host counts as started

    results = tmp_path / "results"
    save("throughput", {"ours": thr, "peers": {}, "ratios": throughput.ratios({"ours": thr})}, results)
    save("latency", {"40": lat}, results)
    save("recovery", {"runs": [{**rec, "lease_seconds": 2.0}]}, results)
    save("scale", {"hosts": grown}, results)
    docs = tmp_path / "docs"
    done = render_docs(results, docs)
    assert done.returncode == 0, done.stderr
    page = (docs / "benchmarks.md").read_text()
    for heading in ("No-op fan-out throughput", "Dispatch latency", "Recovery after kill -9", "Scale"):
        assert f"## {heading}" in page
    assert "IdeaMine (distributed, durable)" in page and "No `throughput.json`" not in page
    assert (docs / "benchmarks.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@in_module_loop
async def test_orchestrator_memory_with_concurrent_runs(bench_env: None) -> None:
    m = await scale.memory(5, hold=0.5)
    assert m["concurrent_runs"] == 5 and m["tasks_waiting"] >= 5 and m["rss_mb_while_held"] > 0


@in_module_loop
async def test_ceiling_loop(bench_env: None) -> None:
    c = await ceiling.measure(40, runs=2, workers=1, pool_size=2, batch=16)
    assert c["tasks"] == 40 and _is_latency(c["queue_wait_ms"], 40)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bench", "--only", "nope"], "unknown benchmark"),
        (["bench.latency", "--rates", "fast"], "--rates takes positive integers"),
        (["bench.scale", "--hosts", "0"], "--hosts takes positive integers"),
        (["bench.throughput", "--peers", "airflow"], "--peers takes"),
        (["bench.recovery", "--tasks", "0"], "must be positive"),
        (["bench.peers.temporal_bench", "--modes", "sideways"], "--modes takes"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(argv: list[str], message: str) -> None:
    done = subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_docs_generator_rejects_a_missing_results_directory(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "scripts/gen_bench_docs.py", f"--results={tmp_path / 'none'}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "is not a directory" in done.stderr


def _venv_ready(name: str) -> bool:
    return (_venv.VENVS / name / ".requirements").is_file()


@pytest.mark.skipif(
    not _venv_ready("celery"), reason="bench/.venvs/celery not created yet (python -m bench makes it)"
)
def test_celery_peer(bench_env: None) -> None:
    r = celery_bench.run(20)
    assert r["tasks"] == 20 and _is_latency(r["queue_wait_ms"], 20)


@pytest.mark.skipif(
    not _venv_ready("temporal"), reason="bench/.venvs/temporal not created yet (python -m bench makes it)"
)
def test_temporal_peer(bench_env: None) -> None:
    r = temporal_bench.run(10, modes=["fanout", "workflows"])
    assert all(
        r[m]["tasks"] == 10 and _is_latency(r[m]["queue_wait_ms"], 10) for m in ("fanout", "workflows")
    )
