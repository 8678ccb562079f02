"""The agent host in-process: real PostgreSQL, Redis, gRPC sockets; AgentHostService and draining."""

from __future__ import annotations

import asyncio
import os
import socket

import grpc
import pytest
from google.protobuf import duration_pb2  # type: ignore[import-untyped]
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from agent_host.server import AgentHost
from agent_host.servicer import HostState
from ideamine._proto.ideamine.v1 import agent_host_pb2
from ideamine.enums import TaskStatus
from ideamine.errors import InvalidInput
from ideamine.llm.offline import OfflineProvider
from tests.agent_host import agents
from tests.agent_host.conftest import Env, value
from tests.agent_host.support import seed_task
from tests.queue.helpers import eventually

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


async def test_status_agents_and_health_over_grpc(env: Env) -> None:
    host = await env.start()
    stub = env.stub()
    status = await stub.GetStatus(agent_host_pb2.GetStatusRequest())
    assert status.host_id == host.host_id and status.state == agent_host_pb2.HOST_STATE_SERVING
    assert (status.busy, status.capacity) == (0, 2) and status.version
    listed = await stub.ListAgents(agent_host_pb2.AgentHostServiceListAgentsRequest())
    names = {a.name: a for a in listed.agents}
    assert {"intake", "critique", "probe", "blocking"} <= set(names)
    assert names["probe"].produces == ["probe-report"] and names["probe"].plugin == "tests.agent_host.agents"
    async with grpc.aio.insecure_channel(host.server.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        reply = await health.Check(health_pb2.HealthCheckRequest(service="ideamine.v1.AgentHostService"))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_a_task_runs_commits_and_its_notice_is_published_at_once(env: Env) -> None:
    host = await env.start()
    task = await seed_task(env.store, env.queue, agent="blocking", task_key="blocking")
    await asyncio.wait_for(agents.BlockingAgent.started.wait(), 20)
    status = await env.stub().GetStatus(agent_host_pb2.GetStatusRequest())
    assert list(status.running_task_ids) == [task.id] and status.busy == 1
    agents.BlockingAgent.release.set()
    done = await eventually(
        lambda: env.store.get_task(task.id), lambda t: t.status is TaskStatus.SUCCEEDED, what="commit"
    )
    assert done.worker == host.host_id
    notices = await eventually(
        lambda: env.queue.consume_notices("test", count=10), lambda n: bool(n), what="the completion notice"
    )
    assert [(n.message.task_id, n.message.status) for n in notices] == [(task.id, "SUCCEEDED")]


async def test_drain_rpc_requeues_what_outlives_the_grace_and_stops_the_host(env: Env) -> None:
    host = await env.start()
    task = await seed_task(env.store, env.queue, agent="blocking", task_key="blocking")
    await asyncio.wait_for(agents.BlockingAgent.started.wait(), 20)
    reply = await env.stub().Drain(
        agent_host_pb2.DrainRequest(grace_period=duration_pb2.Duration(nanos=50_000_000))
    )
    assert (reply.state, reply.in_flight) == (agent_host_pb2.HOST_STATE_DRAINING, 1)
    assert env.runner is not None
    await asyncio.wait_for(env.runner, 20)  # run() returns once drained
    assert host.state is HostState.STOPPED
    requeued = await env.store.get_task(task.id)
    assert (requeued.status, requeued.attempt) == (TaskStatus.QUEUED, 2)
    events = [e.type for e in await env.store.list_events(task.run_id)]
    assert events[-1] == "task.retried"
    # the new attempt's message is on the stream for another host; nothing is left pending
    stats = await env.queue.stats()
    assert stats.pending == 0 and task.id in await env.queue.queued_task_ids()


async def test_drain_lets_running_tasks_finish_within_the_grace(env: Env) -> None:
    host = await env.start()
    task = await seed_task(env.store, env.queue, agent="blocking", task_key="blocking")
    await asyncio.wait_for(agents.BlockingAgent.started.wait(), 20)
    host.request_drain(30)
    await eventually(lambda: value(host.state), lambda s: s is HostState.DRAINING, what="draining")
    agents.BlockingAgent.release.set()
    assert env.runner is not None
    await asyncio.wait_for(env.runner, 20)
    assert (await env.store.get_task(task.id)).status is TaskStatus.SUCCEEDED


@pytest.mark.parametrize("grace", [duration_pb2.Duration(seconds=-1), duration_pb2.Duration(seconds=100_000)])
async def test_drain_with_a_bad_grace_is_invalid_argument_and_changes_nothing(
    env: Env, grace: duration_pb2.Duration
) -> None:
    host = await env.start()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await env.stub().Drain(agent_host_pb2.DrainRequest(grace_period=grace))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(err.value)
    assert status is not None
    bad = error_details_pb2.BadRequest()
    assert any(d.Unpack(bad) for d in status.details)
    assert [v.field for v in bad.field_violations] == ["grace_period"]
    assert host.state is HostState.SERVING


async def test_a_taken_listen_address_is_bad_input_and_closes_what_was_opened(env: Env) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        host = AgentHost(env.config(listen=f"127.0.0.1:{port}"), provider=OfflineProvider())
        with pytest.raises(InvalidInput, match=f"cannot listen on 127.0.0.1:{port}") as err:
            await host.start()
    assert [v.field for v in err.value.violations] == ["listen"]
    assert not await host.store.ping()  # the store it had opened is closed again


async def test_a_host_with_process_isolation_runs_agents_in_children(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDEAMINE_DATABASE_URL", env.db_url)  # present in the host, not in the child
    await env.start(isolation="process", memory_limit_mb=1024, cpu_limit_seconds=30)
    task = await seed_task(env.store, env.queue, agent="probe", task_key="probe")
    done = await eventually(
        lambda: env.store.get_task(task.id), lambda t: t.status is TaskStatus.SUCCEEDED, what="commit"
    )
    [report] = await env.store.list_artifacts(done.run_id, type="probe-report")
    assert report.content["pid"] != os.getpid() and "IDEAMINE_DATABASE_URL" not in report.content["env"]
