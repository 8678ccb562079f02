"""The orchestrator's gRPC servicers, one module per service, and their registration.

Each servicer is a thin adapter (validate → store → convert); :func:`build_services`
lists them for :class:`ideamine.rpc.GrpcServer`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ideamine._proto.ideamine.v1 import (
    agent_host_pb2,
    agent_host_pb2_grpc,
    artifact_pb2,
    artifact_pb2_grpc,
    budget_pb2,
    budget_pb2_grpc,
    catalog_pb2,
    catalog_pb2_grpc,
    checkpoint_pb2,
    checkpoint_pb2_grpc,
    clarification_pb2,
    clarification_pb2_grpc,
    gate_pb2,
    gate_pb2_grpc,
    phase_pb2,
    phase_pb2_grpc,
    run_pb2,
    run_pb2_grpc,
    task_pb2,
    task_pb2_grpc,
)
from ideamine.rpc import Service
from orchestrator.servicers._common import App
from orchestrator.servicers.artifacts import ArtifactServicer
from orchestrator.servicers.budgets import BudgetServicer
from orchestrator.servicers.catalog import CatalogServicer
from orchestrator.servicers.checkpoints import CheckpointServicer
from orchestrator.servicers.clarifications import ClarificationServicer
from orchestrator.servicers.gates import GateServicer
from orchestrator.servicers.host_registry import HostRegistryServicer
from orchestrator.servicers.phases import PhaseServicer
from orchestrator.servicers.runs import RunServicer
from orchestrator.servicers.tasks import TaskServicer
from orchestrator.watch import WatchHub

__all__ = ["App", "build_services"]


def _service(module: Any, grpc_module: Any, name: str, servicer: object) -> Service:
    add: Callable[[Any, Any], None] = getattr(grpc_module, f"add_{name}Servicer_to_server")
    return Service(module.DESCRIPTOR.services_by_name[name], servicer, add)


def build_services(app: App, hub: WatchHub) -> list[Service]:
    """Every service the orchestrator hosts, ready for ``GrpcServer(services=...)``."""
    return [
        _service(run_pb2, run_pb2_grpc, "RunService", RunServicer(app, hub)),
        _service(phase_pb2, phase_pb2_grpc, "PhaseService", PhaseServicer(app)),
        _service(artifact_pb2, artifact_pb2_grpc, "ArtifactService", ArtifactServicer(app)),
        _service(
            clarification_pb2, clarification_pb2_grpc, "ClarificationService", ClarificationServicer(app)
        ),
        _service(gate_pb2, gate_pb2_grpc, "GateService", GateServicer(app)),
        _service(budget_pb2, budget_pb2_grpc, "BudgetService", BudgetServicer(app)),
        _service(checkpoint_pb2, checkpoint_pb2_grpc, "CheckpointService", CheckpointServicer(app)),
        _service(catalog_pb2, catalog_pb2_grpc, "CatalogService", CatalogServicer(app)),
        _service(task_pb2, task_pb2_grpc, "TaskService", TaskServicer(app)),
        _service(agent_host_pb2, agent_host_pb2_grpc, "HostRegistryService", HostRegistryServicer(app)),
    ]
