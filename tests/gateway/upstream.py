"""A small gRPC upstream for the gateway tests (until the orchestrator tests take over).

CatalogService is the skeleton tests' servicer (real catalogue; INVALID_ARGUMENT with field
violations, NOT_FOUND with ErrorInfo, and a bug that must surface as a bare INTERNAL);
RunService records the metadata each call arrived with, echoes CreateRun/CancelRun, and
streams ``WatchRun`` events.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from typing import Any

from ideamine._proto.ideamine.v1 import run_pb2, run_pb2_grpc
from ideamine.rpc import GrpcServer, Service
from tests.rpc.support import catalog_service

#: number of events WatchRun streams for a run
WATCH_EVENTS = 5


class RecordingRunServicer(run_pb2_grpc.RunServiceServicer):  # type: ignore[misc]
    """Echoes runs and remembers the invocation metadata of every call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: list[tuple[str, dict[str, str]]] = []

    def _record(self, method: str, context: Any) -> None:
        with self._lock:
            self.calls.append(
                (method, {k: v for k, v in context.invocation_metadata() if isinstance(v, str)})
            )

    def last(self, method: str) -> dict[str, str]:
        """Metadata of the latest call of ``method``."""
        with self._lock:
            return next(md for m, md in reversed(self.calls) if m == method)

    async def CreateRun(self, request, context):
        self._record("CreateRun", context)
        run = run_pb2.Run()
        run.CopyFrom(request.run)
        run.id = "0190d3a4-0000-7000-8000-000000000001"
        return run_pb2.CreateRunResponse(run=run)

    async def GetRun(self, request, context):
        self._record("GetRun", context)
        return run_pb2.GetRunResponse(run=run_pb2.Run(id=request.run_id, title="echo"))

    async def CancelRun(self, request, context):
        self._record("CancelRun", context)
        return run_pb2.CancelRunResponse(run=run_pb2.Run(id=request.run_id, status_reason=request.reason))

    async def WatchRun(self, request, context) -> AsyncIterator[run_pb2.WatchRunResponse]:
        self._record("WatchRun", context)
        for seq in range(request.after_seq + 1, WATCH_EVENTS + 1):
            yield run_pb2.WatchRunResponse(
                event=run_pb2.RunEvent(run_id=request.run_id, seq=seq, type="phase.started")
            )


def upstream_server(runs: RecordingRunServicer) -> GrpcServer:
    """A GrpcServer on 127.0.0.1:0 hosting CatalogService and the recording RunService."""
    run_service = Service(
        run_pb2.DESCRIPTOR.services_by_name["RunService"], runs, run_pb2_grpc.add_RunServiceServicer_to_server
    )
    return GrpcServer(address="127.0.0.1:0", services=[catalog_service(), run_service], grace=1.0)
