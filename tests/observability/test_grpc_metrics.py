"""gRPC RED metrics on a real server: every call counted once with the code the client saw."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import REGISTRY

from ideamine._proto.ideamine.v1 import catalog_pb2, catalog_pb2_grpc, run_pb2, run_pb2_grpc
from ideamine.errors import Unauthenticated
from ideamine.rpc import GrpcServer, HealthCheck
from tests.rpc.support import CatalogServicer, RunServicer, catalog_service, channel_for, run_service

CATALOG = "ideamine.v1.CatalogService"


class Refuse(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Refuses calls carrying ``x-refuse`` the way an auth interceptor does: by raising."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        if ("x-refuse", "1") in tuple(details.invocation_metadata or ()):
            raise Unauthenticated("no token")
        return await continuation(details)


class Dependency:
    """A health-checked dependency whose state the test flips."""

    up = True

    async def ping(self) -> bool:
        return self.up


@pytest.fixture
async def served() -> AsyncIterator[tuple[GrpcServer, Dependency]]:
    dep = Dependency()
    server = GrpcServer(
        services=[catalog_service(CatalogServicer()), run_service(RunServicer())],
        interceptors=[Refuse()],  # RED metrics come with every GrpcServer
        health_checks=[HealthCheck("postgres", dep.ping)],
        health_interval=3600,
    )
    async with server:
        yield server, dep


def _handled(service: str, method: str, code: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "ideamine_grpc_server_handled_total", {"service": service, "method": method, "code": code}
        )
        or 0.0
    )


def _count(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def _code(call: Awaitable[Any]) -> str:
    try:
        await call
    except grpc.aio.AioRpcError as err:
        return str(err.code().name)
    return "OK"


async def test_calls_are_counted_by_the_code_the_client_received(
    served: tuple[GrpcServer, Dependency],
) -> None:
    server, _ = served
    cases: list[tuple[str, Callable[[Any], Awaitable[Any]], str]] = [
        ("ListPhases", lambda s: s.ListPhases(catalog_pb2.ListPhasesRequest()), "OK"),
        ("GetPhase", lambda s: s.GetPhase(catalog_pb2.GetPhaseRequest()), "INVALID_ARGUMENT"),
        ("GetAgent", lambda s: s.GetAgent(catalog_pb2.GetAgentRequest(agent_name="x")), "NOT_FOUND"),
        ("ListAgents", lambda s: s.ListAgents(catalog_pb2.ListAgentsRequest()), "INTERNAL"),
    ]
    before = {m: _handled(CATALOG, m, code) for m, _, code in cases}
    started = _count("ideamine_grpc_server_started_total", service=CATALOG, method="ListPhases")
    latency = _count("ideamine_grpc_server_handling_seconds_count", service=CATALOG, method="ListPhases")
    async with channel_for(server.address) as channel:
        stub = catalog_pb2_grpc.CatalogServiceStub(channel)
        for method, call, code in cases:
            assert await _code(call(stub)) == code, method
    for method, _, code in cases:
        assert _handled(CATALOG, method, code) == before[method] + 1, method
    assert _count("ideamine_grpc_server_started_total", service=CATALOG, method="ListPhases") == started + 1
    assert (
        _count("ideamine_grpc_server_handling_seconds_count", service=CATALOG, method="ListPhases")
        == latency + 1
    )


async def test_a_stream_is_one_call_ending_with_its_final_status(
    served: tuple[GrpcServer, Dependency],
) -> None:
    server, _ = served
    before = _handled("ideamine.v1.RunService", "WatchRun", "NOT_FOUND")
    async with channel_for(server.address) as channel:
        stream = run_pb2_grpc.RunServiceStub(channel).WatchRun(run_pb2.WatchRunRequest(run_id="r"))
        got = []
        with pytest.raises(grpc.aio.AioRpcError) as err:
            async for item in stream:
                got.append(item)
    assert len(got) == 2 and err.value.code() is grpc.StatusCode.NOT_FOUND
    assert _handled("ideamine.v1.RunService", "WatchRun", "NOT_FOUND") == before + 1


async def test_refusals_by_later_interceptors_count_and_unknown_paths_stay_bounded(
    served: tuple[GrpcServer, Dependency],
) -> None:
    server, _ = served
    refused = _handled(CATALOG, "ListPhases", "UNAUTHENTICATED")
    unknown = _handled("unknown", "unknown", "UNAUTHENTICATED")
    async with channel_for(server.address) as channel:
        stub = catalog_pb2_grpc.CatalogServiceStub(channel)
        assert await _code(
            stub.ListPhases(catalog_pb2.ListPhasesRequest(), metadata=[("x-refuse", "1")])
        ) == ("UNAUTHENTICATED")
        for i in range(3):  # made-up paths: one bounded series, not one per path
            bogus = channel.unary_unary(f"/evil.Service{i}/Method{i}")
            assert await _code(bogus(b"", metadata=[("x-refuse", "1")])) == "UNAUTHENTICATED"
        assert await _code(channel.unary_unary("/evil.Service/Nope")(b"")) == "UNIMPLEMENTED"
    assert _handled(CATALOG, "ListPhases", "UNAUTHENTICATED") == refused + 1
    assert _handled("unknown", "unknown", "UNAUTHENTICATED") == unknown + 3
    names = {
        s.labels.get("service")
        for m in REGISTRY.collect()
        for s in m.samples
        if m.name.startswith("ideamine_grpc")
    }
    assert not any(n and n.startswith("evil") for n in names)


async def test_health_checks_publish_dependency_up(served: tuple[GrpcServer, Dependency]) -> None:
    server, dep = served
    assert _count("ideamine_dependency_up", dependency="postgres") == 1
    dep.up = False
    await server.check_health()
    assert _count("ideamine_dependency_up", dependency="postgres") == 0
    async with channel_for(server.address) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""))
    assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING
    assert _handled("grpc.health.v1.Health", "Check", "OK") >= 1
