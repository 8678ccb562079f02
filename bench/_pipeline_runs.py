"""Running the example pipelines for :mod:`bench.pipeline`: embedded in a child process, or distributed.

- :func:`embedded` runs one example in this process on SQLite with the offline model,
  or — with ``delay_s`` — on the anthropic provider against a
  :class:`~bench._model_server.DelayedModelServer` started here.
- :func:`distributed` starts orchestrator + agent hosts + PostgreSQL + Redis
  (:class:`bench._stack.Stack`), submits each example over the API one after another,
  waits for it to end and measures it from PostgreSQL; with ``delay_s`` the hosts run
  ``--model anthropic`` against the delayed server. A warm-up run of :data:`WARMUP`
  goes first and is not reported: the first run on a fresh stack also pays for
  connection pools, prepared statements and the model client's connections, which a
  long-running service pays once (measured: todo-app 0.86 efficiency cold, 0.89 warm).

Both return one row per example, measured by :func:`bench._pipeline_trace.run_trace`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench._common import peak_rss_mb
from bench._model_server import DelayedModelServer
from bench._pipeline_trace import run_trace
from bench._stack import Proc, Stack, poll

__all__ = ["EXAMPLES", "NAMES", "WARMUP", "distributed", "embedded"]

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "orchestrations"
NAMES = ("todo-app", "iot-dashboard", "healthcare-platform")
#: the example each distributed stack runs once, unreported, before the measured ones
WARMUP = "todo-app"
#: how often the bench asks whether a distributed run ended: each GetRun costs the
#: orchestrator ~2.5 ms of CPU, so a 50 ms poll took ~5 % of a core from the runs it
#: measures (healthcare efficiency 0.85 at 0.5 s vs 0.83 at 50 ms); wall times come from
#: the ledger, so the poll only decides when to stop waiting
POLL_SECONDS = 0.25
#: the API key the agents send to the local model server (it checks none)
_FAKE_KEY = "bench-local-model-server"


@contextlib.contextmanager
def _model(delay_s: float | None) -> Iterator[str | None]:
    """The delayed model server's URL (None: offline model, no server)."""
    if delay_s is None:
        yield None
        return
    with DelayedModelServer(delay_s) as server:
        yield server.base_url


async def embedded(name: str, delay_s: float | None = None, *, freeze_heap: bool = False) -> dict[str, Any]:
    """One example through every phase in this process; its figures.

    ``freeze_heap``: this process exists for the run (the bench's child), so freeze its
    startup heap as ``ideamine run`` does (:mod:`ideamine.heap`) — never in a test process.
    """
    from ideamine.embedded import EmbeddedRuntime
    from ideamine.heap import freeze_startup_heap
    from ideamine.llm.anthropic_provider import AnthropicConfig, AnthropicProvider
    from ideamine.llm.base import LLMProvider
    from ideamine.llm.offline import OfflineProvider
    from ideamine.runfile import load_run_file

    request = load_run_file(str(EXAMPLES / f"{name}.yaml"))
    with _model(delay_s) as url, tempfile.TemporaryDirectory() as d:
        provider: LLMProvider = (
            OfflineProvider() if url is None else AnthropicProvider(AnthropicConfig(_FAKE_KEY, base_url=url))
        )
        t0 = time.perf_counter()
        async with EmbeddedRuntime(db_path=Path(d) / "db.sqlite3", provider=provider) as rt:
            if freeze_heap:
                freeze_startup_heap()
            t_open = time.perf_counter()
            run = await rt.submit(request)
            final = await rt.drive(run.id)
            t_done = time.perf_counter()
            trace = await run_trace(rt.store, run.id, rt.catalogue)
    return {
        "example": name,
        "status": final.status.value,
        "phases": len(final.phases),
        "startup_s": t_open - t0,
        "client_wall_s": t_done - t_open,
        **trace,
        "peak_rss_mb": peak_rss_mb(),
    }


@dataclass
class _ModelStack(Stack):
    """A :class:`~bench._stack.Stack` whose agent hosts run ``--model MODEL``."""

    model: str = "offline"

    def _spawn(self, name: str, args: list[str], *, extra_path: bool) -> Proc:
        if name.startswith("agent-host"):
            args = [*args, f"--model={self.model}"]
        return super()._spawn(name, args, extra_path=extra_path)


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the service processes started inside, then restore them."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


async def distributed(
    names: Sequence[str], *, hosts: int = 2, concurrency: int = 8, delay_s: float | None = None
) -> list[dict[str, Any]]:
    """Each example over the API on one distributed stack, one after another; a row each."""
    with _model(delay_s) as url:
        env = {} if url is None else {"ANTHROPIC_API_KEY": _FAKE_KEY, "ANTHROPIC_BASE_URL": url}
        model = "offline" if url is None else "anthropic"
        with _environ(env):
            async with _ModelStack(hosts=hosts, concurrency=concurrency, model=model) as stack:
                await _run_on(stack, WARMUP)
                return [await _run_on(stack, name) for name in names]


async def _run_on(stack: Stack, name: str) -> dict[str, Any]:
    from ideamine._proto.ideamine.v1 import common_pb2
    from ideamine.catalogue import load_catalogue
    from ideamine.convert.wire import enum_from_proto
    from ideamine.enums import RunStatus
    from ideamine.runfile import load_run_file
    from ideamine.store.factory import open_store

    request = load_run_file(str(EXAMPLES / f"{name}.yaml"))
    ended = {
        common_pb2.RUN_STATUS_SUCCEEDED,
        common_pb2.RUN_STATUS_FAILED,
        common_pb2.RUN_STATUS_CANCELLED,
        common_pb2.RUN_STATUS_NEEDS_WAIVER,
        common_pb2.RUN_STATUS_BUDGET_EXHAUSTED,
        common_pb2.RUN_STATUS_AWAITING_INPUT,
    }
    t0 = time.perf_counter()
    run = await stack.client.create_run(request)
    status = run.status

    async def done() -> bool:
        nonlocal status
        status = (await stack.client.get_run(run.id)).status
        return status in ended

    await poll(done, within=900, what=f"{name} run ended", every=POLL_SECONDS)
    client_wall = time.perf_counter() - t0
    store = await open_store(stack.database_url)
    try:
        trace = await run_trace(store, run.id, load_catalogue())
    finally:
        await store.close()
    return {
        "example": name,
        "status": enum_from_proto(RunStatus, status, field="status").value,
        "phases": len(run.planned_phases),
        "client_wall_s": client_wall,
        **trace,
    }
