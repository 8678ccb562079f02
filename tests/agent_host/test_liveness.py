"""A real agent host whose Redis goes away: readiness fails, liveness does not.

The host runs against a private ``redis-server`` (tests/queue/servers.py) that the test
stops and starts again, so the shared Redis other suites use is never touched.
"""

from __future__ import annotations

from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ideamine.rpc import LIVENESS_SERVICE
from tests.agent_host.conftest import Env
from tests.queue.helpers import eventually
from tests.queue.servers import RedisServer

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
HOST_SERVICE = "ideamine.v1.AgentHostService"


async def test_liveness_stays_serving_while_redis_is_down_and_readiness_does_not(
    env: Env, tmp_path: Path
) -> None:
    async with RedisServer(tmp_path) as redis:
        host = await env.start(redis_url=redis.url)
        async with grpc.aio.insecure_channel(host.server.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)

            async def health() -> dict[str, int]:
                await host.server.check_health()  # now, instead of waiting for the poller
                return {
                    s: (await stub.Check(health_pb2.HealthCheckRequest(service=s), timeout=10)).status
                    for s in ("", HOST_SERVICE, LIVENESS_SERVICE)
                }

            assert await health() == {"": SERVING, HOST_SERVICE: SERVING, LIVENESS_SERVICE: SERVING}
            await redis.stop()
            down = {"": NOT_SERVING, HOST_SERVICE: NOT_SERVING, LIVENESS_SERVICE: SERVING}
            assert await eventually(health, lambda h: h == down, what="readiness down, liveness up") == down
            await redis.start()  # same port: the host recovers without a restart
            up = {"": SERVING, HOST_SERVICE: SERVING, LIVENESS_SERVICE: SERVING}
            assert await eventually(health, lambda h: h == up, what="ready again") == up
