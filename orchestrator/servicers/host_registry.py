"""HostRegistryService: agent hosts register their catalogue and keep a heartbeat lease.

Internal (not exposed through the REST gateway). A host counts as live while its last
heartbeat is younger than :data:`LIVE_BEATS` heartbeat intervals and it has not
deregistered; CatalogService lists only live hosts' agents.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
from google.protobuf import duration_pb2  # type: ignore[import-untyped]

from ideamine._proto.ideamine.v1 import agent_host_pb2, agent_host_pb2_grpc
from ideamine.convert import host_from_proto, host_status_from_proto, timestamp
from ideamine.errors import FieldViolation, InvalidInput
from ideamine.ids import is_id
from ideamine.store.records import AgentHostRecord
from orchestrator.servicers._common import App, violations_message

__all__ = ["HostRegistryServicer", "LIVE_BEATS", "is_live"]

#: heartbeats a host may miss before it no longer counts as live
LIVE_BEATS = 3


def is_live(host: AgentHostRecord, *, heartbeat_seconds: float, now: datetime | None = None) -> bool:
    """Whether ``host`` is registered, not stopped, and heartbeating."""
    now = now or datetime.now(UTC)
    fresh = now - host.last_heartbeat_at <= timedelta(seconds=heartbeat_seconds * LIVE_BEATS)
    return host.status != "DOWN" and fresh


def _host_id(value: str) -> str:
    if not is_id(value):
        raise InvalidInput("host_id must be a UUID (e.g. ideamine.ids.new_id())", field="host_id")
    return value


class HostRegistryServicer(agent_host_pb2_grpc.HostRegistryServiceServicer):  # type: ignore[misc]
    """Register, heartbeat and deregister agent hosts in the store."""

    def __init__(self, app: App) -> None:
        self.app = app

    def _lease(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.app.config.host_heartbeat_seconds * LIVE_BEATS)

    async def RegisterHost(  # noqa: N802
        self, request: agent_host_pb2.RegisterHostRequest, context: grpc.aio.ServicerContext
    ) -> agent_host_pb2.RegisterHostResponse:
        """Insert or replace the host and its agents; returns the heartbeat interval."""
        violations: list[FieldViolation] = []
        if not is_id(request.host_id):
            violations.append(FieldViolation("host_id", "must be a UUID (e.g. ideamine.ids.new_id())"))
        if request.capacity < 0:
            violations.append(FieldViolation("capacity", "must not be negative"))
        for i, agent in enumerate(request.agents):
            if not agent.name.strip():
                violations.append(FieldViolation(f"agents[{i}].name", "is required"))
        if violations:
            raise InvalidInput(f"invalid host: {violations_message(violations)}", violations=violations)
        now = datetime.now(UTC)
        await self.app.store.register_host(host_from_proto(request, now=now))
        interval = duration_pb2.Duration()
        interval.FromTimedelta(timedelta(seconds=self.app.config.host_heartbeat_seconds))
        return agent_host_pb2.RegisterHostResponse(
            heartbeat_interval=interval, lease_expires_at=timestamp(self._lease(now))
        )

    async def HeartbeatHost(  # noqa: N802
        self, request: agent_host_pb2.HeartbeatHostRequest, context: grpc.aio.ServicerContext
    ) -> agent_host_pb2.HeartbeatHostResponse:
        """Extend the host's lease and record its state; NOT_FOUND when never registered."""
        host = await self.app.store.heartbeat_host(
            _host_id(request.host_id), status=host_status_from_proto(request.state)
        )
        return agent_host_pb2.HeartbeatHostResponse(
            lease_expires_at=timestamp(self._lease(host.last_heartbeat_at))
        )

    async def DeregisterHost(  # noqa: N802
        self, request: agent_host_pb2.DeregisterHostRequest, context: grpc.aio.ServicerContext
    ) -> agent_host_pb2.DeregisterHostResponse:
        """Mark the host stopped (its row stays for the record); NOT_FOUND when unknown."""
        await self.app.store.heartbeat_host(_host_id(request.host_id), status="DOWN")
        return agent_host_pb2.DeregisterHostResponse()
