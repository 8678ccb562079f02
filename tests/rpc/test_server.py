"""GrpcServer against real sockets: binding, health, reflection, lifecycle."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from ideamine._proto.ideamine.v1 import catalog_pb2, catalog_pb2_grpc, common_pb2, run_pb2, run_pb2_grpc
from ideamine.catalogue import load_catalogue
from ideamine.rpc import GrpcServer, HealthCheck
from tests.rpc.support import RunServicer, catalog_service, channel_for, run_service

ROOT = Path(__file__).resolve().parents[2]
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
CATALOG = "ideamine.v1.CatalogService"
RUNS = "ideamine.v1.RunService"


class Dependency:
    """A fake dependency whose health the test flips."""

    def __init__(self) -> None:
        self.up = True
        self.calls = 0

    async def ping(self) -> bool:
        self.calls += 1
        return self.up


async def health_of(channel: grpc.aio.Channel, service: str = "") -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    return int((await stub.Check(health_pb2.HealthCheckRequest(service=service))).status)


def watch_health(channel: grpc.aio.Channel, service: str = "") -> grpc.aio.UnaryStreamCall:
    """A health Watch stream; opened before a shutdown, it sees the NOT_SERVING that new calls cannot."""
    return health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=service))


async def statuses_until_closed(watch: grpc.aio.UnaryStreamCall) -> list[int]:
    """Every status a Watch stream delivers until the server ends it."""
    async with asyncio.timeout(10):
        return [reply.status async for reply in watch]


async def test_port_zero_binds_and_serves_the_real_catalogue() -> None:
    async with GrpcServer(services=[catalog_service()]) as server:
        assert server.port > 0
        assert server.address == f"127.0.0.1:{server.port}"
        async with channel_for(server.address) as channel:
            reply = await catalog_pb2_grpc.CatalogServiceStub(channel).ListPhases(
                catalog_pb2.ListPhasesRequest()
            )
    assert [p.name for p in reply.phases] == list(load_catalogue().names)
    assert reply.phases[8].phase == common_pb2.PHASE_STORY_LOOP
    assert [t.key for t in reply.phases[0].tasks] == ["classify", "expand", "validate"]


async def test_health_follows_dependency_checks() -> None:
    db, queue = Dependency(), Dependency()
    checks = [HealthCheck("db", db.ping), HealthCheck("queue", queue.ping, services=(RUNS,))]
    server = GrpcServer(
        services=[catalog_service(), run_service(RunServicer())], health_checks=checks, health_interval=3600
    )
    async with server, channel_for(server.address) as channel:
        assert db.calls == 1, "health is evaluated before serving"
        assert [await health_of(channel, s) for s in ("", CATALOG, RUNS)] == [SERVING] * 3

        queue.up = False  # gates only RunService (and the overall status)
        assert await server.check_health() == {"db": True, "queue": False}
        assert [await health_of(channel, s) for s in ("", CATALOG, RUNS)] == [
            NOT_SERVING,
            SERVING,
            NOT_SERVING,
        ]

        queue.up, db.up = True, False
        await server.check_health()
        assert [await health_of(channel, s) for s in ("", CATALOG, RUNS)] == [NOT_SERVING] * 3

        db.up = True
        await server.check_health()
        assert await health_of(channel) == SERVING


async def test_a_raising_or_hanging_check_counts_as_failing() -> None:
    async def boom() -> bool:
        raise ConnectionRefusedError("db down")

    async def hang() -> bool:
        await asyncio.Event().wait()
        return True

    checks = [HealthCheck("boom", boom), HealthCheck("hang", hang, timeout=0.01)]
    async with GrpcServer(services=[catalog_service()], health_checks=checks) as server:
        assert await server.check_health() == {"boom": False, "hang": False}
        async with channel_for(server.address) as channel:
            assert await health_of(channel, CATALOG) == NOT_SERVING


async def test_the_poller_picks_up_changes_on_its_own() -> None:
    db = Dependency()
    server = GrpcServer(
        services=[catalog_service()], health_checks=[HealthCheck("db", db.ping)], health_interval=0.01
    )
    async with server, channel_for(server.address) as channel:
        db.up = False
        stub = health_pb2_grpc.HealthStub(channel)
        async with asyncio.timeout(10):
            async for reply in stub.Watch(health_pb2.HealthCheckRequest(service=CATALOG)):
                if reply.status == NOT_SERVING:
                    break


async def test_reflection_lists_the_services() -> None:
    async with (
        GrpcServer(services=[catalog_service(), run_service(RunServicer())]) as server,
        channel_for(server.address) as channel,
    ):
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        async for reply in stub.ServerReflectionInfo(iter([request])):
            names = {s.name for s in reply.list_services_response.service}
            break
        files = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(file_containing_symbol=CATALOG)])
        )
        async for reply in files:
            assert reply.file_descriptor_response.file_descriptor_proto
            break
    assert names == {CATALOG, RUNS, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"}


async def test_graceful_shutdown_finishes_in_flight_calls_and_refuses_new_ones() -> None:
    runs = RunServicer()
    server = GrpcServer(services=[run_service(runs)], grace=30)
    await server.start()
    async with channel_for(server.address) as channel:
        stub = run_pb2_grpc.RunServiceStub(channel)
        watch = watch_health(channel)
        in_flight = asyncio.ensure_future(stub.GetRun(run_pb2.GetRunRequest(run_id="r1")))
        await runs.entered.wait()

        stopping = asyncio.ensure_future(server.shutdown())
        # The watcher hears NOT_SERVING and its stream ends, so it does not hold up the drain.
        assert await statuses_until_closed(watch) == [SERVING, NOT_SERVING]
        assert not stopping.done(), "shutdown waits for the in-flight call"

        runs.release.set()
        reply = await in_flight
        await stopping
    assert reply.run.id == "r1"
    await server.shutdown()  # idempotent
    await server.wait_closed()

    async with grpc.aio.insecure_channel(server.address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await run_pb2_grpc.RunServiceStub(channel).GetRun(run_pb2.GetRunRequest(run_id="r2"), timeout=5)
    assert err.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


async def test_a_shorter_second_shutdown_cuts_the_drain_short() -> None:
    runs = RunServicer()
    server = GrpcServer(services=[run_service(runs)], grace=3600)
    await server.start()
    async with channel_for(server.address) as channel:
        call = run_pb2_grpc.RunServiceStub(channel).GetRun(run_pb2.GetRunRequest(run_id="r1"))
        await runs.entered.wait()
        first = asyncio.ensure_future(server.shutdown())
        await asyncio.sleep(0)
        await server.shutdown(grace=0)
        await first
        with pytest.raises(grpc.aio.AioRpcError):
            await call


async def test_run_drains_on_sigterm() -> None:
    runs = RunServicer()
    server = GrpcServer(services=[run_service(runs)], grace=30)
    await server.start()
    serving = asyncio.ensure_future(server.run(handle_signals=True))
    async with channel_for(server.address) as channel:
        watch = watch_health(channel, RUNS)
        call = run_pb2_grpc.RunServiceStub(channel).GetRun(run_pb2.GetRunRequest(run_id="r1"))
        await runs.entered.wait()
        os.kill(os.getpid(), signal.SIGTERM)
        assert await statuses_until_closed(watch) == [SERVING, NOT_SERVING]
        assert not serving.done()
        runs.release.set()
        assert (await call).run.id == "r1"
    await serving
    assert signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, signal.default_int_handler)


_SECOND_SIGNAL_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from tests.rpc.support import RunServicer, run_service
    from ideamine.rpc import GrpcServer

    async def main():
        runs = RunServicer()
        server = GrpcServer(services=[run_service(runs)], grace=3600)
        await server.start()
        print(server.port, flush=True)
        serving = asyncio.ensure_future(server.run())
        await runs.entered.wait()
        print("entered", flush=True)
        await serving

    asyncio.run(main())
    """
)


@pytest.mark.timeout(60)
async def test_a_second_signal_exits_at_once() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _SECOND_SIGNAL_SCRIPT, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        port = int(await proc.stdout.readline())
        async with channel_for(f"127.0.0.1:{port}") as channel:
            watch = watch_health(channel)
            call = run_pb2_grpc.RunServiceStub(channel).GetRun(run_pb2.GetRunRequest(run_id="r1"))
            assert await proc.stdout.readline() == b"entered\n"
            proc.send_signal(signal.SIGTERM)
            assert await statuses_until_closed(watch) == [SERVING, NOT_SERVING]
            assert proc.returncode is None, "the first signal drains; grace is an hour"
            proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(30):
                rc = await proc.wait()
            with pytest.raises(grpc.aio.AioRpcError):
                await call
        assert rc == 128 + signal.SIGTERM
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_configuration_errors_are_refused_early() -> None:
    with pytest.raises(ValueError, match="at least one"):
        GrpcServer(services=[])
    with pytest.raises(ValueError, match="not hosted"):
        GrpcServer(
            services=[catalog_service()],
            health_checks=[HealthCheck("q", Dependency().ping, services=(RUNS,))],
        )
    server = GrpcServer(services=[catalog_service()])
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.port
    async with server:
        with pytest.raises(RuntimeError, match="already"):
            await server.start()
