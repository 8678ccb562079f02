"""Two orchestrator replicas in one process: one owner per run, takeover after a crash.

The replicas share one database and one Redis prefix; a TaskWorker runs the agents. When
the owner is shut down without releasing its leases (as kill -9 would leave them), the
other replica adopts the run once the lease expires and finishes it; the crashed owner's
fence can no longer move the run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest

from agent_host.worker import TaskWorker
from ideamine.enums import RunStatus, TaskStatus
from ideamine.errors import StaleAttempt
from ideamine.queue import open_queue
from ideamine.runfile import load_run_file
from ideamine.store.base import RunStore
from ideamine.store.factory import open_store
from ideamine.store.records import Event, NewRun
from orchestrator.owner import FencedStore
from orchestrator.server import OrchestratorServer
from tests.orchestrator.conftest import drop_queue
from tests.orchestrator.support import (
    create_database,
    drop_database,
    server_config,
    unique_prefix,
    worker_running,
)
from tests.polling import eventually

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "orchestrations"


@dataclass
class Cluster:
    replicas: list[OrchestratorServer]
    store: RunStore
    worker: TaskWorker


@pytest.fixture
async def cluster(pg_url: str, redis_url: str) -> AsyncIterator[Cluster]:
    db = await create_database(pg_url)
    prefix = unique_prefix()
    replicas = [
        OrchestratorServer(server_config(db, redis_url, prefix, replica_id=name))
        for name in ("replica-a", "replica-b")
    ]
    store = await open_store(db)
    queue = open_queue(redis_url, prefix=prefix)
    try:
        for r in replicas:
            await r.start()
        await queue.ensure()
        async with worker_running(store, queue, "replica-test-worker") as worker:
            yield Cluster(replicas, store, worker)
    finally:
        for r in replicas:
            await r.shutdown(0.5)
        await queue.close()
        await store.close()
        await drop_database(pg_url, db)
        await drop_queue(redis_url, prefix)


def _owners(cluster: Cluster, run_id: str) -> list[OrchestratorServer]:
    return [r for r in cluster.replicas if run_id in r.owner.held]


async def test_one_owner_at_a_time_and_takeover_after_a_crash(cluster: Cluster) -> None:
    request = load_run_file(str(EXAMPLES / "todo-app.yaml"))
    run = await cluster.store.create_run(
        NewRun(
            tenant="local",
            title=request.title,
            idea=request.idea_document(),
            phases=request.phases,
            budget=request.budget,
            policy=request.policy,
        ),
        events=[Event("run.created")],
    )
    for r in cluster.replicas:
        r.owner.wake()
    owners_seen: set[str] = set()

    async def intake_done() -> bool:
        owners = _owners(cluster, run.id)
        assert len(owners) <= 1, "two replicas hold the same run"
        owners_seen.update(o.config.replica_id for o in owners)
        events = await cluster.store.list_events(run.id, limit=10_000)
        return any(e.type == "phase.completed" and e.phase == "intake" for e in events)

    await eventually(intake_done, what="the intake phase to complete")
    (first,) = _owners(cluster, run.id)
    old_fence = first.owner.held[run.id].fence
    (survivor,) = [r for r in cluster.replicas if r is not first]
    await first.shutdown(0.5, release=False)  # a crash: the lease stays until it expires

    async def adopted() -> bool:
        owners = _owners(cluster, run.id)
        assert owners in ([], [survivor])
        return bool(owners)

    await eventually(adopted, what="the surviving replica to adopt the run")
    assert survivor.owner.held[run.id].fence > old_fence
    stale = cast(RunStore, FencedStore(cluster.store, (first.config.replica_id, old_fence)))
    with pytest.raises(StaleAttempt):
        await stale.transition_run(run.id, expected=[RunStatus.RUNNING], new=RunStatus.PAUSED)

    async def finished() -> RunStatus | None:
        status = (await cluster.store.get_run(run.id)).status
        return status if status in (RunStatus.SUCCEEDED, RunStatus.FAILED) else None

    assert await eventually(finished, within=60, what="the run to finish") is RunStatus.SUCCEEDED
    assert owners_seen == {first.config.replica_id}
    tasks = await cluster.store.list_tasks(run.id)
    assert tasks and all(t.status is TaskStatus.SUCCEEDED for t in tasks)
    events = await cluster.store.list_events(run.id, limit=100_000)
    succeeded = sorted(str(e.task_id) for e in events if e.type == "task.succeeded")
    assert succeeded == sorted(t.id for t in tasks), "a task's effect was committed twice"
    started = [e for e in events if e.type == "run.started"]
    assert len(started) == 1
    assert (await cluster.store.verify_ledger(run.id)).ok
    await eventually(lambda: _released(cluster, run.id), what="the finished run's lease to be released")


async def _released(cluster: Cluster, run_id: str) -> bool:
    return not _owners(cluster, run_id)
