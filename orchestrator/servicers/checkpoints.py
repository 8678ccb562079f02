"""CheckpointService: a run's phase checkpoints, and resuming a stopped run from one.

Resuming from a checkpoint continues the phase it was taken in from that durable state
(the engine re-derives everything from the store, so a resumed attempt picks up where
the checkpoint left it). Only checkpoints of a phase that has not finished can be resumed
from: rewinding past a phase that already succeeded would need superseding its artifacts,
which the store does not offer, so that is refused with FAILED_PRECONDITION instead of
being half done.
"""

from __future__ import annotations

import asyncio
import bisect

import grpc

from ideamine._proto.ideamine.v1 import checkpoint_pb2, checkpoint_pb2_grpc
from ideamine.convert import checkpoint_to_proto, optional_phase
from ideamine.enums import PhaseStatus, RunStatus
from ideamine.errors import Conflict, NotFound
from orchestrator.auth import current_principal
from orchestrator.servicers._common import App, paginate, require, resume_run, run_message, tenant_run

__all__ = ["CheckpointServicer"]

_RESUMABLE = (RunStatus.PAUSED, RunStatus.BUDGET_EXHAUSTED, RunStatus.AWAITING_INPUT)
_UNFINISHED = (PhaseStatus.PENDING, PhaseStatus.RUNNING, PhaseStatus.AWAITING_INPUT, PhaseStatus.FAILED)


class CheckpointServicer(checkpoint_pb2_grpc.CheckpointServiceServicer):  # type: ignore[misc]
    """Checkpoints of the caller's runs."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def ListCheckpoints(  # noqa: N802
        self, request: checkpoint_pb2.ListCheckpointsRequest, context: grpc.aio.ServicerContext
    ) -> checkpoint_pb2.ListCheckpointsResponse:
        """Checkpoints oldest first, each with the last event sequence number it covers."""
        run = await tenant_run(self.app, request.run_id)
        phase = optional_phase(request.phase)
        checkpoints, events = await asyncio.gather(
            self.app.store.list_checkpoints(run.id), self.app.store.list_events(run.id, limit=1_000_000)
        )
        selected = [c for c in checkpoints if phase is None or c.phase == phase]
        page, token = paginate(selected, request.page_size, request.page_token)
        times = [e.created_at for e in events]
        return checkpoint_pb2.ListCheckpointsResponse(
            checkpoints=[
                checkpoint_to_proto(
                    c, event_seq=events[i - 1].seq if (i := bisect.bisect_right(times, c.created_at)) else 0
                )
                for c in page
            ],
            next_page_token=token,
        )

    async def ResumeFromCheckpoint(  # noqa: N802
        self, request: checkpoint_pb2.ResumeFromCheckpointRequest, context: grpc.aio.ServicerContext
    ) -> checkpoint_pb2.ResumeFromCheckpointResponse:
        """Resume a stopped run from a checkpoint of a phase that has not finished."""
        run = await tenant_run(self.app, request.run_id)
        checkpoint_id = require(request.checkpoint_id, "checkpoint_id", max_chars=100)
        checkpoint = next(
            (c for c in await self.app.store.list_checkpoints(run.id) if c.id == checkpoint_id), None
        )
        if checkpoint is None:
            raise NotFound(f"checkpoint {checkpoint_id} not found", checkpoint_id=checkpoint_id)
        pe = await self.app.store.get_phase_execution(run.id, checkpoint.phase)
        if pe.status not in _UNFINISHED:
            raise Conflict(
                f"phase {checkpoint.phase} is {pe.status.value}: only a checkpoint of an unfinished phase can be "
                "resumed from",
                checkpoint_id=checkpoint.id,
                phase=checkpoint.phase,
            )
        run = await resume_run(
            self.app,
            run,
            allowed=_RESUMABLE,
            payload={
                "checkpoint_id": checkpoint.id,
                "phase": checkpoint.phase,
                "attempt": checkpoint.attempt,
                "by": current_principal().subject,
            },
        )
        return checkpoint_pb2.ResumeFromCheckpointResponse(run=await run_message(self.app, run))
