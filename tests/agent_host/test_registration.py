"""Registration with a HostRegistryService on a real socket: retries, re-registration, drain, tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import jwt
import pytest
from google.protobuf import duration_pb2  # type: ignore[import-untyped]

from agent_host.registration import TokenSource, backoff_seconds
from agent_host.servicer import HostState
from ideamine._proto.ideamine.v1 import agent_host_pb2, agent_host_pb2_grpc
from ideamine.rpc import GrpcServer, Service
from tests.agent_host.conftest import Env, value
from tests.queue.helpers import eventually

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

SECRET = "registration-test-secret-of-32-bytes+"


class Registry(agent_host_pb2_grpc.HostRegistryServiceServicer):  # type: ignore[misc]
    """A HostRegistryService that records calls, refuses the first few and checks the token."""

    def __init__(self, *, fail_first: int) -> None:
        self.fail_first = fail_first
        self.calls: list[tuple[str, Any]] = []
        self.known: set[str] = set()
        self.drain_requested = False

    def _check_token(self, context: grpc.aio.ServicerContext) -> dict[str, Any]:
        auth = dict(context.invocation_metadata()).get("authorization", "")
        claims: dict[str, Any] = jwt.decode(
            auth.removeprefix("Bearer "),
            SECRET,
            algorithms=["HS256"],
            audience="ideamine-api",
            issuer="ideamine",
        )
        return claims

    async def RegisterHost(self, request, context):  # noqa: N802
        claims = self._check_token(context)
        self.calls.append(("register", request))
        if self.fail_first:
            self.fail_first -= 1
            await context.abort(grpc.StatusCode.UNAVAILABLE, "orchestrator starting")
        assert claims["roles"] == ["operator"] and claims["sub"] == f"agent-host:{request.host_id}"
        self.known.add(request.host_id)
        return agent_host_pb2.RegisterHostResponse(
            heartbeat_interval=duration_pb2.Duration(nanos=100_000_000)
        )

    async def HeartbeatHost(self, request, context):  # noqa: N802
        self._check_token(context)
        if request.host_id not in self.known:
            await context.abort(grpc.StatusCode.NOT_FOUND, "unknown host")
        self.calls.append(("beat", (request.state, request.busy)))
        return agent_host_pb2.HeartbeatHostResponse(drain_requested=self.drain_requested)

    async def DeregisterHost(self, request, context):  # noqa: N802
        self._check_token(context)
        self.calls.append(("deregister", request.reason))
        self.known.discard(request.host_id)
        return agent_host_pb2.DeregisterHostResponse()

    def count(self, kind: str) -> int:
        return sum(1 for k, _ in self.calls if k == kind)


@pytest.fixture
async def registry() -> AsyncIterator[tuple[Registry, str]]:
    servicer = Registry(fail_first=2)
    desc = agent_host_pb2.DESCRIPTOR.services_by_name["HostRegistryService"]
    server = GrpcServer(
        services=[Service(desc, servicer, agent_host_pb2_grpc.add_HostRegistryServiceServicer_to_server)]
    )
    async with server:
        yield servicer, server.address


async def test_registration_retries_reregisters_and_drains_on_request(
    env: Env, registry: tuple[Registry, str]
) -> None:
    servicer, address = registry
    host = await env.start(orchestrator=address, jwt_hs256_secret=SECRET)
    assert host.registration is not None
    await eventually(lambda: value(servicer.count("beat")), lambda n: n >= 2, what="heartbeats")
    # two refused registrations were retried (with backoff), not fatal
    assert servicer.count("register") == 3
    [first] = [r for k, r in servicer.calls if k == "register"][-1:]
    assert first.host_id == host.host_id and first.capacity == 2 and first.address == host.address
    assert {"probe", "intake"} <= {a.name for a in first.agents}
    assert (agent_host_pb2.HOST_STATE_SERVING, 0) in [v for k, v in servicer.calls if k == "beat"]

    servicer.known.clear()  # the orchestrator forgot the host: NOT_FOUND → register again
    await eventually(lambda: value(servicer.count("register")), lambda n: n == 4, what="re-registration")

    servicer.drain_requested = True
    assert env.runner is not None
    runner = env.runner
    await eventually(lambda: value(runner.done()), bool, what="drain on request")
    assert host.state is HostState.STOPPED
    assert servicer.calls[-1] == ("deregister", "shutdown") and not servicer.known


async def test_an_unreachable_orchestrator_is_not_fatal(env: Env) -> None:
    host = await env.start(orchestrator="127.0.0.1:1")
    registration = host.registration
    assert registration is not None
    await eventually(lambda: value(registration.failures), lambda n: n >= 2, what="retries")
    assert host.state is HostState.SERVING and not registration.registered


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_seconds(n, base=1.0, cap=8.0) <= d for n, d in ((1, 1), (2, 2), (3, 4), (9, 8))] == [
        True
    ] * 4
    assert all(backoff_seconds(n, base=1.0, cap=8.0) >= min(8.0, 2 ** (n - 1)) / 2 for n in range(1, 10))


def test_tokens_given_beat_minted_and_none_sends_nothing() -> None:
    assert TokenSource().metadata() == ()
    assert TokenSource(token="t0k", hs256_secret=SECRET).metadata() == (("authorization", "Bearer t0k"),)
    [(key, value)] = TokenSource(hs256_secret=SECRET, subject="agent-host:x").metadata()
    claims = jwt.decode(value.removeprefix("Bearer "), SECRET, algorithms=["HS256"], audience="ideamine-api")
    assert key == "authorization" and claims["sub"] == "agent-host:x" and claims["exp"] > claims["iat"]
