"""PhaseService: how each phase of a run is doing (status, attempts, tasks, usage)."""

from __future__ import annotations

import asyncio

import grpc

from ideamine._proto.ideamine.v1 import phase_pb2, phase_pb2_grpc
from ideamine.convert import phase_execution_to_proto, phase_from_proto
from ideamine.enums import TERMINAL_TASK_STATUSES
from ideamine.store.records import PhaseExecutionRecord, RunRecord
from orchestrator.servicers._common import App, paginate, phase_usage, tenant_run, wall_clock

__all__ = ["PhaseServicer"]


class PhaseServicer(phase_pb2_grpc.PhaseServiceServicer):  # type: ignore[misc]
    """Phase executions with the counts derived from tasks, artifacts and model calls."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def _messages(
        self, run: RunRecord, executions: list[PhaseExecutionRecord]
    ) -> list[phase_pb2.PhaseExecution]:
        store = self.app.store
        artifacts, tasks, calls = await asyncio.gather(
            store.list_artifacts(run.id), store.list_tasks(run.id), store.list_llm_calls(run_id=run.id)
        )
        order = {n: i for i, n in enumerate(self.app.catalogue.names)}
        out = []
        for pe in sorted(executions, key=lambda p: order.get(p.phase, len(order))):
            current = [t for t in tasks if t.phase == pe.phase and t.phase_attempt == pe.attempt]
            out.append(
                phase_execution_to_proto(
                    pe,
                    max_attempts=self.app.catalogue.phase(pe.phase).gate.max_attempts,
                    artifact_ids=[a.id for a in artifacts if a.phase == pe.phase],
                    task_count=len(current),
                    tasks_done=sum(t.status in TERMINAL_TASK_STATUSES for t in current),
                    usage=phase_usage(calls, pe.phase, wall=wall_clock(pe.started_at, pe.finished_at)),
                )
            )
        return out

    async def ListPhaseExecutions(  # noqa: N802
        self, request: phase_pb2.ListPhaseExecutionsRequest, context: grpc.aio.ServicerContext
    ) -> phase_pb2.ListPhaseExecutionsResponse:
        """The run's phase executions in pipeline order."""
        run = await tenant_run(self.app, request.run_id)
        messages = await self._messages(run, await self.app.store.list_phase_executions(run.id))
        page, token = paginate(messages, request.page_size, request.page_token, default=13)
        return phase_pb2.ListPhaseExecutionsResponse(phase_executions=page, next_page_token=token)

    async def GetPhaseExecution(  # noqa: N802
        self, request: phase_pb2.GetPhaseExecutionRequest, context: grpc.aio.ServicerContext
    ) -> phase_pb2.GetPhaseExecutionResponse:
        """One phase of the run; NOT_FOUND until the phase has started."""
        run = await tenant_run(self.app, request.run_id)
        phase = phase_from_proto(request.phase)
        pe = await self.app.store.get_phase_execution(run.id, phase)
        (message,) = await self._messages(run, [pe])
        return phase_pb2.GetPhaseExecutionResponse(phase_execution=message)
