"""The orchestrator's gRPC servicers, one module per service, and their registration.

Each servicer is a thin adapter (validate → store → convert); :func:`build_services`
lists them for :class:`ideamine.rpc.GrpcServer`.
"""

from __future__ import annotations

from ideamine._proto.ideamine.v1 import (
    agent_host_pb2,
    agent_host_pb2_grpc,
    catalog_pb2,
    catalog_pb2_grpc,
    run_pb2,
    run_pb2_grpc,
)
from ideamine.rpc import Service
from orchestrator.servicers._common import App
from orchestrator.servicers.catalog import CatalogServicer
from orchestrator.servicers.host_registry import HostRegistryServicer
from orchestrator.servicers.runs import RunServicer
from orchestrator.watch import WatchHub

__all__ = ["App", "build_services"]


def build_services(app: App, hub: WatchHub) -> list[Service]:
    """Every service the orchestrator hosts, ready for ``GrpcServer(services=...)``."""
    return [
        Service(
            run_pb2.DESCRIPTOR.services_by_name["RunService"],
            RunServicer(app, hub),
            run_pb2_grpc.add_RunServiceServicer_to_server,
        ),
        Service(
            catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"],
            CatalogServicer(app),
            catalog_pb2_grpc.add_CatalogServiceServicer_to_server,
        ),
        Service(
            agent_host_pb2.DESCRIPTOR.services_by_name["HostRegistryService"],
            HostRegistryServicer(app),
            agent_host_pb2_grpc.add_HostRegistryServiceServicer_to_server,
        ),
    ]
