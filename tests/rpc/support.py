"""Tiny servicers and helpers for the skeleton tests.

``CatalogServicer.ListPhases`` serves the real catalogue (ideamine/phases.yaml) so the
tests prove the whole path: generated code, skeleton, conversions. The other methods
exist to raise errors or block on purpose.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from ideamine._proto.ideamine.v1 import catalog_pb2, catalog_pb2_grpc, run_pb2, run_pb2_grpc
from ideamine.catalogue import PhaseSpec, load_catalogue
from ideamine.convert import phase_from_proto, phase_to_proto
from ideamine.errors import FieldViolation, InvalidInput, NotFound
from ideamine.rpc import Service

SECRET = "password=hunter2 at db.internal:5432"


def phase_definition(p: PhaseSpec) -> catalog_pb2.PhaseDefinition:
    """A catalogue phase as its proto message."""
    return catalog_pb2.PhaseDefinition(
        phase=phase_to_proto(p.name),  # type: ignore[arg-type]
        name=p.name,
        index=p.index,
        needs=[phase_to_proto(n) for n in p.needs],  # type: ignore[misc]
        parallelism=p.parallelism,
        tasks=[
            catalog_pb2.TaskDefinition(key=t.key, produces=t.produces, after=t.after, per_story=t.per_story)
            for t in p.tasks
        ],
        artifact_types=p.artifact_types,
    )


class CatalogServicer(catalog_pb2_grpc.CatalogServiceServicer):  # type: ignore[misc]
    """ListPhases/GetPhase from the real catalogue; ListAgents is a bug on purpose."""

    async def ListPhases(self, request, context):
        return catalog_pb2.ListPhasesResponse(phases=[phase_definition(p) for p in load_catalogue().phases])

    async def GetPhase(self, request, context):
        if request.phase == 0:
            raise InvalidInput(
                "phase is required",
                violations=[FieldViolation("phase", "must name a phase, e.g. PHASE_INTAKE")],
            )
        return catalog_pb2.GetPhaseResponse(
            phase=phase_definition(load_catalogue().phase(phase_from_proto(request.phase)))
        )

    async def ListAgents(self, request, context):
        raise RuntimeError(f"could not connect: {SECRET}")

    async def GetAgent(self, request, context):
        raise NotFound(f"agent {request.agent_name!r} not found", agent=request.agent_name, tenant="t-secret")


class RunServicer(run_pb2_grpc.RunServiceServicer):  # type: ignore[misc]
    """GetRun blocks until released (in-flight calls); WatchRun streams then fails."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def GetRun(self, request, context):
        self.entered.set()
        await self.release.wait()
        return run_pb2.GetRunResponse(run=run_pb2.Run(id=request.run_id, title="done"))

    async def WatchRun(self, request, context) -> AsyncIterator[run_pb2.WatchRunResponse]:
        for seq in (1, 2):
            yield run_pb2.WatchRunResponse(event=run_pb2.RunEvent(run_id=request.run_id, seq=seq, type="t"))
        if request.after_seq == 99:
            raise RuntimeError(SECRET)
        raise NotFound("run vanished", run_id=request.run_id)


def catalog_service(servicer: CatalogServicer | None = None) -> Service:
    """The CatalogService registration for GrpcServer."""
    return Service(
        catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"],
        servicer or CatalogServicer(),
        catalog_pb2_grpc.add_CatalogServiceServicer_to_server,
    )


def run_service(servicer: RunServicer) -> Service:
    """The RunService registration for GrpcServer."""
    return Service(
        run_pb2.DESCRIPTOR.services_by_name["RunService"],
        servicer,
        run_pb2_grpc.add_RunServiceServicer_to_server,
    )


@asynccontextmanager
async def channel_for(address: str) -> AsyncIterator[grpc.aio.Channel]:
    """An insecure channel to ``address``, ready before it is yielded, closed afterwards."""
    async with grpc.aio.insecure_channel(address) as channel:
        await asyncio.wait_for(channel.channel_ready(), timeout=10)
        yield channel


def rich_status(err: grpc.aio.AioRpcError) -> status_pb2.Status:
    """The google.rpc.Status a failed call carried (asserts there was one)."""
    status = rpc_status.from_call(err)
    assert status is not None, "no grpc-status-details-bin trailer"
    return status


def detail(status: status_pb2.Status, cls: Any) -> Any:
    """The first detail of ``status`` of type ``cls`` (ErrorInfo, BadRequest, ...), unpacked."""
    for d in status.details:
        if d.Is(cls.DESCRIPTOR):
            msg = cls()
            d.Unpack(msg)
            return msg
    return None


__all__ = [
    "SECRET",
    "CatalogServicer",
    "RunServicer",
    "catalog_service",
    "run_service",
    "channel_for",
    "rich_status",
    "detail",
    "error_details_pb2",
]
