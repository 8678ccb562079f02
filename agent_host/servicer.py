"""AgentHostService: what operators and the orchestrator may ask one agent host.

A thin adapter over :class:`HostView` (implemented by :class:`agent_host.server.AgentHost`):
report status and load, list the loaded agents, and start a drain. ``Drain`` returns at
once — the host drains in the background (finishes in-flight tasks within the grace,
re-queues what outlives it, deregisters, exits) — so the caller can poll ``GetStatus``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Protocol

import grpc

from ideamine._proto.ideamine.v1 import agent_host_pb2, agent_host_pb2_grpc
from ideamine.convert import agent_definition_to_proto, timestamp
from ideamine.errors import InvalidInput
from ideamine.plugins import AgentRegistry

__all__ = ["AgentHostServicer", "HostState", "HostView", "MAX_GRACE_SECONDS"]

#: longest drain grace a caller may ask for (an hour: longer is a stuck host, not a drain)
MAX_GRACE_SECONDS = 3600


class HostState(StrEnum):
    """Life of an agent host; mirrors the proto ``HostState`` (``HOST_STATE_<name>``)."""

    STARTING = "STARTING"  #: loading plugins, not consuming yet
    SERVING = "SERVING"  #: consuming tasks
    DRAINING = "DRAINING"  #: finishing running tasks, taking no new ones
    STOPPED = "STOPPED"  #: not consuming; about to exit

    def to_proto(self) -> agent_host_pb2.HostState:
        """The proto enum value."""
        value: agent_host_pb2.HostState = agent_host_pb2.HostState.Value(f"HOST_STATE_{self.value}")
        return value


class HostView(Protocol):
    """What the servicer reads from, and asks of, the host."""

    host_id: str
    version: str
    capacity: int
    started_at: datetime
    registry: AgentRegistry

    @property
    def state(self) -> HostState:
        """Current state."""
        ...

    @property
    def running_task_ids(self) -> list[str]:
        """Tasks being handled now."""
        ...

    def request_drain(self, grace: float | None) -> None:
        """Start draining in the background (idempotent); None = the configured grace."""
        ...


def _grace(request: agent_host_pb2.DrainRequest) -> float | None:
    """The requested grace in seconds; None when unset (the host's configured grace)."""
    if not request.HasField("grace_period"):
        return None
    d = request.grace_period
    seconds = float(d.seconds + d.nanos / 1e9)
    if d.seconds < 0 or d.nanos < 0 or seconds > MAX_GRACE_SECONDS:
        raise InvalidInput(
            f"grace_period must be between 0 and {MAX_GRACE_SECONDS} seconds", field="grace_period"
        )
    return seconds


class AgentHostServicer(agent_host_pb2_grpc.AgentHostServiceServicer):  # type: ignore[misc]
    """GetStatus, ListAgents and Drain over a :class:`HostView`."""

    def __init__(self, host: HostView) -> None:
        self.host = host

    async def GetStatus(  # noqa: N802
        self, request: agent_host_pb2.GetStatusRequest, context: grpc.aio.ServicerContext
    ) -> agent_host_pb2.GetStatusResponse:
        """State, load and identity of the host."""
        running = self.host.running_task_ids
        return agent_host_pb2.GetStatusResponse(
            host_id=self.host.host_id,
            state=self.host.state.to_proto(),
            busy=len(running),
            capacity=self.host.capacity,
            running_task_ids=running,
            version=self.host.version,
            started_at=timestamp(self.host.started_at),
        )

    async def ListAgents(  # noqa: N802
        self, request: agent_host_pb2.AgentHostServiceListAgentsRequest, context: grpc.aio.ServicerContext
    ) -> agent_host_pb2.AgentHostServiceListAgentsResponse:
        """Every agent this host loaded, built-in and third-party."""
        return agent_host_pb2.AgentHostServiceListAgentsResponse(
            agents=[agent_definition_to_proto(e) for e in self.host.registry.agents]
        )

    async def Drain(  # noqa: N802
        self, request: agent_host_pb2.DrainRequest, context: grpc.aio.ServicerContext
    ) -> agent_host_pb2.DrainResponse:
        """Stop taking tasks; finish (or after the grace, re-queue) the running ones; then exit."""
        grace = _grace(request)
        self.host.request_drain(grace)
        in_flight = len(self.host.running_task_ids)
        state = HostState.DRAINING if in_flight else HostState.STOPPED
        return agent_host_pb2.DrainResponse(state=state.to_proto(), in_flight=in_flight)
