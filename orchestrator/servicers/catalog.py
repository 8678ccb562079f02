"""CatalogService: the phases of the catalogue and the agents that serve them.

Agents come from two places: the plugin manager of this process (what the engine plans
with) and the catalogues live agent hosts registered. An agent is listed once, with the
ids of the live hosts that run it.
"""

from __future__ import annotations

import grpc

from ideamine._proto.ideamine.v1 import catalog_pb2, catalog_pb2_grpc
from ideamine.convert import (
    agent_definition_from_dict,
    agent_definition_to_proto,
    optional_phase,
    phase_definition_to_proto,
    phase_from_proto,
    phase_or_unspecified,
)
from ideamine.errors import NotFound
from orchestrator.servicers._common import App, paginate, require
from orchestrator.servicers.host_registry import is_live

__all__ = ["CatalogServicer"]


class CatalogServicer(catalog_pb2_grpc.CatalogServiceServicer):  # type: ignore[misc]
    """Read-only views of the catalogue and the agent directory."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def ListPhases(  # noqa: N802
        self, request: catalog_pb2.ListPhasesRequest, context: grpc.aio.ServicerContext
    ) -> catalog_pb2.ListPhasesResponse:
        """Phases in pipeline order (page_size 0 means all 13)."""
        phases = [phase_definition_to_proto(p) for p in self.app.catalogue.phases]
        page, token = paginate(phases, request.page_size, request.page_token, default=len(phases))
        return catalog_pb2.ListPhasesResponse(phases=page, next_page_token=token)

    async def GetPhase(  # noqa: N802
        self, request: catalog_pb2.GetPhaseRequest, context: grpc.aio.ServicerContext
    ) -> catalog_pb2.GetPhaseResponse:
        """One phase."""
        spec = self.app.catalogue.phase(phase_from_proto(request.phase))
        return catalog_pb2.GetPhaseResponse(phase=phase_definition_to_proto(spec))

    async def _agents(self) -> list[catalog_pb2.AgentDefinition]:
        hosts = [
            h
            for h in await self.app.store.list_hosts()
            if is_live(h, heartbeat_seconds=self.app.config.host_heartbeat_seconds)
        ]
        by_name = {e.name: agent_definition_to_proto(e) for e in self.app.registry.agents}
        for host in hosts:
            for raw in host.agents:
                agent = agent_definition_from_dict(raw)
                known = by_name.setdefault(agent.name, agent)
                if host.id not in known.host_ids:
                    known.host_ids.append(host.id)
        order = {p: i for i, p in enumerate(phase_or_unspecified(n) for n in self.app.catalogue.names)}
        return sorted(by_name.values(), key=lambda a: (order.get(a.phase, len(order)), a.name))

    async def ListAgents(  # noqa: N802
        self, request: catalog_pb2.ListAgentsRequest, context: grpc.aio.ServicerContext
    ) -> catalog_pb2.ListAgentsResponse:
        """Agents by phase then name, optionally of one phase."""
        phase = optional_phase(request.phase)
        agents = [a for a in await self._agents() if phase is None or a.phase == phase_or_unspecified(phase)]
        page, token = paginate(agents, request.page_size, request.page_token, default=100)
        return catalog_pb2.ListAgentsResponse(agents=page, next_page_token=token)

    async def GetAgent(  # noqa: N802
        self, request: catalog_pb2.GetAgentRequest, context: grpc.aio.ServicerContext
    ) -> catalog_pb2.GetAgentResponse:
        """One agent by name."""
        name = require(request.agent_name, "agent_name", max_chars=200)
        for agent in await self._agents():
            if agent.name == name:
                return catalog_pb2.GetAgentResponse(agent=agent)
        raise NotFound(f"agent {name!r} not found", agent=name)
