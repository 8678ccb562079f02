"""Liveness and readiness are separate health answers of every GrpcServer.

Readiness (the overall status ``""`` and each hosted service) follows the dependency
checks; liveness (``LIVENESS_SERVICE``) says only that the server's event loop answers,
so Kubernetes restarts a hung process but not every replica during a database outage.
"""

from __future__ import annotations

import asyncio

import pytest
from grpc_health.v1 import health_pb2

from ideamine.rpc import LIVENESS_SERVICE, GrpcServer, HealthCheck
from tests.queue.servers import free_port
from tests.rpc.support import catalog_service, channel_for
from tests.rpc.test_server import CATALOG, NOT_SERVING, SERVING, health_of


async def test_a_dependency_on_a_closed_port_fails_readiness_not_liveness() -> None:
    closed = free_port()  # nobody listens: connecting is refused, as to a stopped database

    async def database_answers() -> bool:
        _, writer = await asyncio.open_connection("127.0.0.1", closed)
        writer.close()
        return True

    server = GrpcServer(
        services=[catalog_service()],
        health_checks=[HealthCheck("postgres", database_answers)],
        health_interval=3600,
    )
    async with server, channel_for(server.address) as channel:
        assert await server.check_health() == {"postgres": False}
        assert await health_of(channel) == NOT_SERVING
        assert await health_of(channel, CATALOG) == NOT_SERVING
        assert await health_of(channel, LIVENESS_SERVICE) == SERVING


async def test_liveness_is_serving_from_start_until_shutdown() -> None:
    server = GrpcServer(services=[catalog_service()])
    ask = health_pb2.HealthCheckRequest(service=LIVENESS_SERVICE)
    await server.start()
    async with channel_for(server.address) as channel:
        assert await health_of(channel, LIVENESS_SERVICE) == SERVING
    await server.shutdown(0)
    # the socket is closed now; the servicer itself says what a draining server answers
    assert (await server.health_servicer.Check(ask, None)).status == NOT_SERVING


def test_no_hosted_service_may_take_the_liveness_name() -> None:
    service = catalog_service()
    clash = type(service)(
        descriptor=type("D", (), {"full_name": LIVENESS_SERVICE})(),
        servicer=service.servicer,
        add_to_server=service.add_to_server,
    )
    with pytest.raises(ValueError, match="liveness"):
        GrpcServer(services=[clash])
