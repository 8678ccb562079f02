"""Agent hosts as real processes: a host dies (or freezes) mid-task, another one finishes it, once.

Two ``ideamine serve agent-host`` processes share a fresh database and a Redis namespace.
The ``slow`` agent (:mod:`tests.agent_host.slow_cluster`) blocks on a file this test
creates, and tells which process runs it.
The tests share the two processes; the freeze test runs first because the kill test
leaves one host dead.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator

import asyncpg  # type: ignore[import-untyped]
import grpc
import pytest
import pytest_asyncio

from ideamine._proto.ideamine.v1 import agent_host_pb2, agent_host_pb2_grpc
from ideamine.enums import TaskStatus
from ideamine.store.records import TaskRecord
from tests.agent_host.procs import Service
from tests.agent_host.slow_cluster import Cluster, slow_cluster
from tests.agent_host.support import seed_task
from tests.queue.helpers import eventually

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.asyncio(loop_scope="module"),
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(
    pg_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    args = ["--concurrency", "1", "--lease-seconds", "2", "--heartbeat-seconds", "0.5"]
    async with slow_cluster(
        pg_url, redis_url, tmp_path_factory.mktemp("hosts"), hosts=2, host_args=args
    ) as c:
        yield c


async def _succeeded(c: Cluster, task: TaskRecord) -> TaskRecord:
    return await eventually(
        lambda: c.store.get_task(task.id),
        lambda t: t.status is TaskStatus.SUCCEEDED,
        what="commit",
        within=60,
    )


async def _assert_effect_once(c: Cluster, task: TaskRecord, *, by_pid: int) -> None:
    conn = await asyncpg.connect(c.db_url)
    try:
        results = await conn.fetchval(
            "SELECT count(*) FROM task_results WHERE idempotency_key = $1", task.idempotency_key
        )
    finally:
        await conn.close()
    assert results == 1
    reports = await c.store.list_artifacts(task.run_id, type="slow-report", latest_only=False)
    assert [(a.content["attempt"], a.content["pid"]) for a in reports] == [(2, by_pid)]
    events = [e.type for e in await c.store.list_events(task.run_id)]
    assert events.count("task.succeeded") == 1 and events.count("task.stalled") == 1
    assert (await c.store.verify_ledger(task.run_id)).ok


def _by_pid(c: Cluster, pid: int) -> tuple[Service, Service]:
    [dead] = [s for s in c.hosts if s.pid == pid]
    [alive] = [s for s in c.hosts if s.pid != pid]
    return dead, alive


async def test_a_frozen_host_that_wakes_up_late_is_fenced_off(cluster: Cluster) -> None:
    c = cluster
    task = await seed_task(c.store, c.queue, agent="slow", task_key="slow")
    frozen, survivor = _by_pid(c, await c.started(task, 1))
    os.kill(frozen.pid, signal.SIGSTOP)  # alive but silent: its lease runs out
    assert await c.started(task, 2) == survivor.pid
    c.gate(task).joinpath("release").touch()
    await _succeeded(c, task)
    os.kill(frozen.pid, signal.SIGCONT)  # attempt 1 now finishes too: its commit must change nothing

    async with grpc.aio.insecure_channel(c.addresses[frozen.pid]) as channel:
        stub = agent_host_pb2_grpc.AgentHostServiceStub(channel)
        await eventually(
            lambda: stub.GetStatus(agent_host_pb2.GetStatusRequest()),
            lambda s: s.busy == 0,
            what="the frozen host to finish its stale attempt",
        )
    assert len(list(c.gate(task).glob("started.*"))) == 2
    await _assert_effect_once(c, task, by_pid=survivor.pid)


async def test_a_host_killed_mid_task_is_replaced_and_the_task_commits_once(cluster: Cluster) -> None:
    c = cluster
    task = await seed_task(c.store, c.queue, agent="slow", task_key="slow")
    victim, survivor = _by_pid(c, await c.started(task, 1))
    victim.kill9()
    c.gate(task).joinpath("release").touch()  # the next attempt may finish at once
    assert await c.started(task, 2) == survivor.pid
    done = await _succeeded(c, task)
    assert done.attempt == 2
    await _assert_effect_once(c, task, by_pid=survivor.pid)


async def test_sigterm_lets_the_running_task_finish_then_exits_0(cluster: Cluster) -> None:
    c = cluster
    [host] = [s for s in c.hosts if s.proc.poll() is None]  # the kill test left one host
    task = await seed_task(c.store, c.queue, agent="slow", task_key="slow")
    assert await c.started(task, 1) == host.pid
    host.proc.send_signal(signal.SIGTERM)
    async with grpc.aio.insecure_channel(c.addresses[host.pid]) as channel:
        stub = agent_host_pb2_grpc.AgentHostServiceStub(channel)
        status = await eventually(
            lambda: stub.GetStatus(agent_host_pb2.GetStatusRequest()),
            lambda s: s.state == agent_host_pb2.HOST_STATE_DRAINING,
            what="draining",
        )
    assert list(status.running_task_ids) == [task.id]  # still running: the drain waits for it
    c.gate(task).joinpath("release").touch()
    assert await asyncio.to_thread(host.wait) == 0, host.log()
    done = await c.store.get_task(task.id)
    assert (done.status, done.attempt) == (TaskStatus.SUCCEEDED, 1)
