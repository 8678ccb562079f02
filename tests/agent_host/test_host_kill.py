"""Agent hosts as real processes: a host dies (or freezes) mid-task, another one finishes it, once.

Two ``ideamine serve agent-host`` processes share a fresh database and a Redis namespace.
The ``slow`` agent (``fixtures/slow_plugin``, loaded through its entry point like any
installed plugin) blocks on a file this test creates, and tells which process runs it.
The tests share the two processes; the freeze test runs first because the kill test
leaves one host dead.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import grpc
import pytest
import pytest_asyncio

from ideamine._proto.ideamine.v1 import agent_host_pb2, agent_host_pb2_grpc
from ideamine.enums import TaskStatus
from ideamine.queue import RedisStreamsQueue
from ideamine.store.base import RunStore
from ideamine.store.factory import open_store
from ideamine.store.records import TaskRecord
from tests.agent_host.procs import ROOT, Service, serve, wait_serving
from tests.agent_host.support import fresh_database, redis_queue, seed_task
from tests.queue.helpers import eventually

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.asyncio(loop_scope="module"),
]

SLOW_PLUGIN = Path(__file__).parent / "fixtures" / "slow_plugin"


@dataclass
class Cluster:
    """Two host processes over one database and queue namespace (shared by this module's tests)."""

    db_url: str
    store: RunStore
    queue: RedisStreamsQueue
    gates: Path  #: one gate directory per run below this
    hosts: list[Service]
    addresses: dict[int, str]  #: gRPC address by host pid

    def gate(self, task: TaskRecord) -> Path:
        """The slow agent's gate directory for ``task``'s run."""
        return self.gates / task.run_id


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(
    pg_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    tmp_path = tmp_path_factory.mktemp("hosts")
    gate = tmp_path / "gate"
    gate.mkdir()
    env = {"PYTHONPATH": os.pathsep.join([str(SLOW_PLUGIN), str(ROOT)]), "IDEAMINE_TEST_GATE": str(gate)}
    async with fresh_database(pg_url) as db_url, redis_queue(redis_url) as queue:
        hosts = [
            serve(
                "agent-host",
                f"host-{i}",
                database_url=db_url,
                redis_url=redis_url,
                queue_prefix=queue.keys.prefix,
                log_dir=tmp_path,
                env=env,
                extra=["--concurrency", "1", "--lease-seconds", "2", "--heartbeat-seconds", "0.5"],
            )
            for i in (1, 2)
        ]
        store = await open_store(db_url)
        try:
            await asyncio.gather(*(wait_serving(a, "ideamine.v1.AgentHostService", s) for s, a in hosts))
            yield Cluster(db_url, store, queue, gate, [s for s, _ in hosts], {s.pid: a for s, a in hosts})
        finally:
            for s, _ in hosts:
                if s.proc.poll() is None:
                    os.kill(s.pid, signal.SIGCONT)  # a test that failed may leave one frozen
                await asyncio.to_thread(s.stop)
            await store.close()


async def _started(c: Cluster, task: TaskRecord, attempt: int) -> int:
    """The pid of the host process that started ``attempt`` of the slow task."""

    async def probe() -> list[Path]:
        return sorted(c.gate(task).glob(f"started.{attempt}.*"))

    [marker] = await eventually(probe, bool, what=f"attempt {attempt} to start", within=60)
    return int(marker.name.rsplit(".", 1)[1])


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
    frozen, survivor = _by_pid(c, await _started(c, task, 1))
    os.kill(frozen.pid, signal.SIGSTOP)  # alive but silent: its lease runs out
    assert await _started(c, task, 2) == survivor.pid
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
    victim, survivor = _by_pid(c, await _started(c, task, 1))
    victim.kill9()
    c.gate(task).joinpath("release").touch()  # the next attempt may finish at once
    assert await _started(c, task, 2) == survivor.pid
    done = await _succeeded(c, task)
    assert done.attempt == 2
    await _assert_effect_once(c, task, by_pid=survivor.pid)


async def test_sigterm_lets_the_running_task_finish_then_exits_0(cluster: Cluster) -> None:
    c = cluster
    [host] = [s for s in c.hosts if s.proc.poll() is None]  # the kill test left one host
    task = await seed_task(c.store, c.queue, agent="slow", task_key="slow")
    assert await _started(c, task, 1) == host.pid
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
