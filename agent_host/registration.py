"""Keeping an agent host registered with the orchestrator's HostRegistryService.

The registry is how operators and the catalogue see which hosts run which agents; it is
not on the task path (tasks flow through Redis whatever the registry says). So a failing
registration never stops a host: every failed call is logged and retried with a capped,
jittered exponential backoff, and the host keeps consuming tasks meanwhile.

Loop: ``RegisterHost`` (the agent catalogue, capacity, address) → ``HeartbeatHost`` every
interval (the orchestrator's ``heartbeat_interval`` when it gives one) with the host's
state and load → on ``NOT_FOUND`` (the orchestrator forgot the host, e.g. a fresh
database) register again → on ``drain_requested`` start draining → ``DeregisterHost``
on an orderly stop. :meth:`Registration.beat_now` sends a heartbeat at once, so a state
change (DRAINING) is visible without waiting for the next interval.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import grpc
import jwt

from agent_host.servicer import HostState
from ideamine import tracing
from ideamine._proto.ideamine.v1 import agent_host_pb2, agent_host_pb2_grpc
from ideamine.waiting import wait_event

__all__ = ["Registration", "TokenSource", "backoff_seconds"]

log = logging.getLogger(__name__)

#: seconds one registry call may take before it counts as failed
CALL_TIMEOUT = 5.0
#: lifetime of a self-minted HS256 token (re-minted well before it expires)
MINTED_TOKEN_SECONDS = 300


def backoff_seconds(failures: int, *, base: float = 0.2, cap: float = 30.0) -> float:
    """Delay before retry number ``failures`` (1, 2, …): doubling from ``base``, capped, jittered."""
    delay: float = min(cap, base * 2.0 ** max(failures - 1, 0))
    return delay * random.uniform(0.5, 1.0)


@dataclass(frozen=True)
class TokenSource:
    """Where the bearer token for orchestrator calls comes from (none: ``--insecure-local``).

    Attributes:
        token: a token given as is (IDEAMINE_HOST_TOKEN), e.g. issued by the identity provider.
        hs256_secret: the shared HS256 secret (IDEAMINE_JWT_HS256_SECRET); the host then
            mints its own short-lived operator token, as local deployments allow.
        issuer: ``iss`` of a minted token.
        audience: ``aud`` of a minted token.
        subject: ``sub`` of a minted token (the host).
    """

    token: str | None = None
    hs256_secret: str | None = None
    issuer: str = "ideamine"
    audience: str = "ideamine-api"
    subject: str = "agent-host"

    def metadata(self) -> tuple[tuple[str, str], ...]:
        """Call metadata carrying the token, or nothing."""
        token = self.token or self._mint()
        return (("authorization", f"Bearer {token}"),) if token else ()

    def _mint(self) -> str | None:
        if not self.hs256_secret:
            return None
        now = int(time.time())
        claims = {
            "sub": self.subject,
            "tenant": "system",
            "roles": ["operator"],
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "exp": now + MINTED_TOKEN_SECONDS,
        }
        return jwt.encode(claims, self.hs256_secret, algorithm="HS256")


class Registration:
    """Registers the host, heartbeats, re-registers when forgotten, deregisters on stop.

    Lifecycle: ``task = create_task(registration.run())`` … ``await registration.stop()``.

    Args:
        target: orchestrator ``host:port``.
        request: the RegisterHost request (host id, address, catalogue, capacity).
        load: ``() -> (state, busy)`` for heartbeats.
        heartbeat_seconds: interval when the orchestrator names none.
        tokens: bearer token source.
        on_drain_requested: called when a heartbeat response asks the host to drain.
    """

    def __init__(
        self,
        *,
        target: str,
        request: agent_host_pb2.RegisterHostRequest,
        load: Callable[[], tuple[HostState, int]],
        heartbeat_seconds: float,
        tokens: TokenSource | None = None,
        on_drain_requested: Callable[[], None] = lambda: None,
    ) -> None:
        self.target = target
        self._request = request
        self._load = load
        self._interval = heartbeat_seconds
        self._tokens = tokens or TokenSource()
        self._on_drain_requested = on_drain_requested
        self._channel = grpc.aio.insecure_channel(target, interceptors=tracing.grpc_client_interceptors())
        self._stub = agent_host_pb2_grpc.HostRegistryServiceStub(self._channel)
        self._wake = asyncio.Event()
        self._stopping = False
        self.registered = False
        #: consecutive failed calls (0 after a success)
        self.failures = 0

    def beat_now(self) -> None:
        """Send the next heartbeat (or registration attempt) now."""
        self._wake.set()

    async def run(self) -> None:
        """Register and heartbeat until :meth:`stop`; never raises for RPC failures."""
        while not self._stopping:
            try:
                await self._call()
                self.failures = 0
                delay = self._interval
            except grpc.aio.AioRpcError as exc:
                self.failures += 1
                if exc.code() == grpc.StatusCode.NOT_FOUND:
                    self.registered = False
                delay = backoff_seconds(self.failures)
                log.warning(
                    "registry call to %s failed (%s: %s); retry %d in %.1fs",
                    self.target,
                    exc.code().name,
                    exc.details(),
                    self.failures,
                    delay,
                )
            await wait_event(self._wake, delay)
            self._wake.clear()

    async def _call(self) -> None:
        metadata = self._tokens.metadata()
        if not self.registered:
            response = await self._stub.RegisterHost(self._request, timeout=CALL_TIMEOUT, metadata=metadata)
            given = response.heartbeat_interval.ToTimedelta().total_seconds()
            if given > 0:
                self._interval = given
            self.registered = True
            log.info("registered host %s with %s", self._request.host_id, self.target)
            return
        state, busy = self._load()
        beat = await self._stub.HeartbeatHost(
            agent_host_pb2.HeartbeatHostRequest(
                host_id=self._request.host_id, state=state.to_proto(), busy=busy
            ),
            timeout=CALL_TIMEOUT,
            metadata=metadata,
        )
        if beat.drain_requested:
            log.info("the orchestrator asked host %s to drain", self._request.host_id)
            self._on_drain_requested()

    async def stop(self, *, deregister: bool = True, reason: str = "shutdown") -> None:
        """Stop the loop and (best effort, one short call) deregister; idempotent."""
        if self._stopping:
            return
        self._stopping = True
        self._wake.set()
        if deregister and self.registered:
            try:
                await self._stub.DeregisterHost(
                    agent_host_pb2.DeregisterHostRequest(host_id=self._request.host_id, reason=reason),
                    timeout=CALL_TIMEOUT,
                    metadata=self._tokens.metadata(),
                )
                log.info("deregistered host %s", self._request.host_id)
            except grpc.aio.AioRpcError as exc:
                log.warning("could not deregister from %s: %s", self.target, exc.code().name)
        await self._channel.close()
