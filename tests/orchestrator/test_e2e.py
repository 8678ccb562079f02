"""A run created over gRPC completes: orchestrator + an in-process TaskWorker (offline model,
Redis queue, the same PostgreSQL), watched to the end through WatchRun and the client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from agent_host.worker import TaskWorker
from ideamine._proto.ideamine.v1 import common_pb2
from ideamine.client import IdeaMineClient
from ideamine.enums import TaskStatus
from ideamine.queue import open_queue
from ideamine.runfile import load_run_file
from tests.orchestrator.conftest import Stack
from tests.orchestrator.support import worker_running

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.postgres, pytest.mark.redis]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "orchestrations"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def worker(stack: Stack) -> AsyncIterator[TaskWorker]:
    """An agent host's worker loop in this process, on the stack's queue and database."""
    queue = open_queue(stack.redis_url, prefix=stack.prefix)
    await queue.ensure()
    try:
        async with worker_running(stack.store, queue, "e2e-worker") as w:
            yield w
    finally:
        await queue.close()


async def test_run_over_grpc_completes_and_watch_streams_every_event(
    stack: Stack, worker: TaskWorker
) -> None:
    token = stack.keys.token(roles=["operator"])
    async with IdeaMineClient(stack.server.address, token=token) as client:
        run = await client.create_run(load_run_file(str(EXAMPLES / "todo-app.yaml")))
        events = [e async for e in client.watch_run(run.id)]
        final = await client.get_run(run.id)
        assert final.status == common_pb2.RUN_STATUS_SUCCEEDED, final.status_reason
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert events[0].type == "run.created" and events[-1].type == "run.completed"
        assert final.usage.llm_calls > 0 and final.usage.input_tokens > 0

        phases = await client.list_phase_executions(run.id)
        assert [p.phase for p in phases] == list(final.planned_phases)
        assert all(p.status == common_pb2.PHASE_STATUS_SUCCEEDED and p.artifact_ids for p in phases)
        artifacts = await client.list_artifacts(run.id, latest_only=True)
        assert {a.type for a in artifacts} >= {"idea-spec", "prd"}
        assert all(a.model == "offline" and a.agent for a in artifacts)
        prd = next(a for a in artifacts if a.type == "prd")
        assert "#" in await client.render_artifact(run.id, prd.id)
        dossier = await client.export_dossier(run.id)
        assert set(dossier.artifact_ids) == {a.id for a in artifacts}
        assert "Traceability matrix" in dossier.content

        gates = await client.list_gate_evaluations(run.id)
        assert {g.phase for g in gates} == set(final.planned_phases)
        budget = await client.get_budget(run.id, include_tasks=False)
        assert budget.run.used.cost_usd == pytest.approx(final.usage.cost_usd)
        assert [s.phase for s in budget.phases] == list(final.planned_phases)
        assert await client.list_checkpoints(run.id)

    # every task's effect exactly once; the ledger chain verifies
    tasks = await stack.store.list_tasks(run.id)
    assert tasks and all(t.status is TaskStatus.SUCCEEDED for t in tasks)
    assert len({t.idempotency_key for t in tasks}) == len(tasks)
    succeeded = [
        e for e in await stack.store.list_events(run.id, limit=100_000) if e.type == "task.succeeded"
    ]
    assert sorted(str(e.task_id) for e in succeeded) == sorted(t.id for t in tasks)
    assert (await stack.store.verify_ledger(run.id)).ok
