"""Shared by the security and fuzz suites: a finished run on a real orchestrator, and its ids.

:func:`finished_run` drives one run to its end on the orchestrator of
``tests.orchestrator.conftest.stack`` with an agent host's :class:`TaskWorker` in this
process (offline model, the stack's Redis prefix and database), so the run owns every
kind of object a read RPC can return: artifacts, phase executions, gate evaluations,
checkpoints, questions or assumptions, tasks, ledger events. :func:`object_ids` lists
them for tests that must reach those objects by id.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ideamine._proto.ideamine.v1 import common_pb2, run_pb2
from ideamine.queue import open_queue
from tests.orchestrator.conftest import Stack
from tests.orchestrator.support import offline_worker
from tests.polling import eventually

__all__ = ["RunObjects", "finished_run", "object_ids", "running_worker"]

IDEA = (
    "A booking app for community sports halls: clubs reserve courts, pay deposits online and "
    "get reminders; the council sees utilisation reports."
)
_ENDED = {
    common_pb2.RUN_STATUS_SUCCEEDED,
    common_pb2.RUN_STATUS_FAILED,
    common_pb2.RUN_STATUS_NEEDS_WAIVER,
    common_pb2.RUN_STATUS_CANCELLED,
}


@contextlib.asynccontextmanager
async def running_worker(stack: Stack, consumer: str = "security-worker") -> AsyncIterator[None]:
    """An offline agent-host worker consuming the stack's queue while the block runs."""
    queue = open_queue(stack.redis_url, prefix=stack.prefix)
    await queue.ensure()
    worker = offline_worker(stack.store, queue, consumer)
    task = asyncio.create_task(worker.run())
    try:
        yield
    finally:
        worker.shutdown()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 30)
        await queue.close()


async def finished_run(
    stack: Stack,
    *,
    tenant: str = "acme",
    idea: str = IDEA,
    phases: Sequence[Any] = (common_pb2.PHASE_IDEATION,),
) -> run_pb2.Run:
    """Create a run as ``tenant`` and wait (with a deadline) until it has ended."""
    md = stack.md("operator", tenant=tenant)
    created = await stack.runs.CreateRun(
        run_pb2.CreateRunRequest(run=run_pb2.Run(idea=idea, requested_phases=list(phases))), metadata=md
    )

    async def ended() -> run_pb2.Run | None:
        run = (await stack.runs.GetRun(run_pb2.GetRunRequest(run_id=created.run.id), metadata=md)).run
        return run if run.status in _ENDED else None

    run: run_pb2.Run = await eventually(ended, within=180, what="the seeded run to end")
    return run


@dataclass
class RunObjects:
    """Ids of everything a run owns (each list may be empty when the run made none)."""

    run_id: str
    artifact_ids: list[str] = field(default_factory=list)
    task_ids: list[str] = field(default_factory=list)
    question_ids: list[str] = field(default_factory=list)
    checkpoint_ids: list[str] = field(default_factory=list)
    phases: list[str] = field(default_factory=list)


async def object_ids(stack: Stack, run_id: str) -> RunObjects:
    """Read the run's objects straight from the store (not through the API under test)."""
    store = stack.store
    return RunObjects(
        run_id=run_id,
        artifact_ids=[a.id for a in await store.list_artifacts(run_id)],
        task_ids=[t.id for t in await store.list_tasks(run_id)],
        question_ids=[q.id for q in await store.list_questions(run_id)],
        checkpoint_ids=[c.id for c in await store.list_checkpoints(run_id)],
        phases=sorted({t.phase for t in await store.list_tasks(run_id)}),
    )
