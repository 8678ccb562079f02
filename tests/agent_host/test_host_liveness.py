"""A killed host's task moves on when its liveness lock goes, long before its lease ends.

Two real ``ideamine serve agent-host`` processes run the ``slow`` agent with a 60 s task
lease (renewed every 2 s), so within this test's waits only the liveness path can move a
task: the store's lost-worker sweep (what the orchestrator runs every second) looks for
workers of RUNNING tasks whose session lock is free. A killed host's lock goes with its
process; a frozen host keeps its session, and with it its lock and its task.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from ideamine.enums import TaskStatus
from ideamine.queue.reconciler import Reconciler
from orchestrator.lost_workers import LostWorkerSweeper
from tests.agent_host.slow_cluster import Cluster, slow_cluster
from tests.agent_host.support import seed_task
from tests.queue.helpers import eventually

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.asyncio(loop_scope="module"),
]

LEASE_SECONDS = 60


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(
    pg_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    args = ["--concurrency", "1", "--lease-seconds", str(LEASE_SECONDS), "--heartbeat-seconds", "2"]
    async with slow_cluster(
        pg_url, redis_url, tmp_path_factory.mktemp("liveness"), hosts=2, host_args=args
    ) as c:
        yield c


async def _sweep_for(sweeper: LostWorkerSweeper, seconds: float) -> int:
    """Sweep every 0.2 s for ``seconds``; the tasks handed back meanwhile."""
    moved = 0
    for _ in range(int(seconds / 0.2)):
        moved += await sweeper.sweep()
        await asyncio.sleep(0.2)
    return moved


async def test_a_frozen_host_keeps_its_task_a_killed_one_loses_it_at_once(cluster: Cluster) -> None:
    store, queue, hosts = cluster.store, cluster.queue, cluster.hosts
    sweeper = LostWorkerSweeper(store, after=1.0, flush_outbox=Reconciler(store, queue).relay)
    task = await seed_task(store, queue, agent="slow", task_key="slow")
    pid = await cluster.started(task, 1)
    [holder] = [s for s in hosts if s.pid == pid]
    [survivor] = [s for s in hosts if s.pid != pid]

    os.kill(holder.pid, signal.SIGSTOP)  # silent, but its session (and lock) lives on
    try:
        assert await _sweep_for(sweeper, 3.0) == 0
        assert (await store.get_task(task.id)).status is TaskStatus.RUNNING
    finally:
        os.kill(holder.pid, signal.SIGCONT)

    holder.kill9()
    moved = 0

    async def handed_back() -> int:
        nonlocal moved
        moved += await sweeper.sweep()
        return moved

    await eventually(handed_back, bool, what="the killed host's task to be handed back", within=20)
    stalled = await store.get_task(task.id)
    assert stalled.attempt == 2 and stalled.lease_expires_at is None
    # the first attempt's lease had most of its 60 s left: only the liveness lock told
    cluster.gate(task).joinpath("release").touch()
    assert await cluster.started(task, 2) == survivor.pid
    done = await eventually(
        lambda: store.get_task(task.id), lambda t: t.status is TaskStatus.SUCCEEDED, what="commit", within=60
    )
    assert done.attempt == 2
    events = [e.type for e in await store.list_events(task.run_id)]
    assert events.count("task.stalled") == 1 and events.count("task.succeeded") == 1
