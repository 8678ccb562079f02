"""RunService: create, read, list, steer and watch runs of the caller's tenant."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc

from ideamine._proto.ideamine.v1 import run_pb2, run_pb2_grpc
from ideamine.convert import (
    enum_from_proto,
    event_to_proto,
    phase_from_proto,
    run_request_dict,
    run_violation_field,
)
from ideamine.enums import TERMINAL_RUN_STATUSES, RunStatus
from ideamine.errors import Conflict, FieldViolation, InvalidInput
from ideamine.runfile import RunRequest, parse_run_request
from ideamine.store.records import Event, NewRun, RunRecord
from orchestrator.auth import current_principal
from orchestrator.engine import events as ev
from orchestrator.servicers._common import (
    App,
    decode_cursor,
    encode_cursor,
    page_bounds,
    resume_run,
    run_message,
    tenant_run,
    violations_message,
)
from orchestrator.watch import WatchHub, follow_ledger

__all__ = ["RunServicer", "parse_create_run"]

#: a run created with a request_id is found again among this many newest runs of the tenant
_REQUEST_ID_WINDOW = 200
_CANCELLABLE = [s for s in RunStatus if s not in TERMINAL_RUN_STATUSES]
_RESUMABLE = (RunStatus.PAUSED, RunStatus.BUDGET_EXHAUSTED, RunStatus.AWAITING_INPUT)


def parse_create_run(request: run_pb2.CreateRunRequest, app: App) -> RunRequest:
    """Validate a CreateRun request with the run-file rules; every bad field is named.

    Raises:
        InvalidInput: with ``run.<field>`` violations (proto field paths).
    """
    if not request.HasField("run"):
        raise InvalidInput("run is required", field="run")
    violations: list[FieldViolation] = []
    if len(request.request_id) > 200:
        violations.append(FieldViolation("request_id", "must be at most 200 characters"))
    phases: list[str] = []
    for i, number in enumerate(request.run.requested_phases):
        try:
            phases.append(phase_from_proto(number))
        except InvalidInput:
            violations.append(FieldViolation(f"run.requested_phases[{i}]", "must name a phase"))
    data: dict[str, Any] = run_request_dict(request.run)
    if phases:
        data["phases"] = phases
    parsed = None
    try:
        parsed = parse_run_request(data, catalogue=app.catalogue)
    except InvalidInput as exc:
        violations.extend(FieldViolation(run_violation_field(v.field), v.description) for v in exc.violations)
    if violations or parsed is None:
        raise InvalidInput(f"invalid run: {violations_message(violations)}", violations=violations)
    return parsed


class RunServicer(run_pb2_grpc.RunServiceServicer):  # type: ignore[misc]
    """Thin adapter from RunService to the store; the run owner does the driving."""

    def __init__(self, app: App, hub: WatchHub) -> None:
        self.app = app
        self.hub = hub

    async def _existing(self, tenant: str, request_id: str) -> RunRecord | None:
        page = await self.app.store.list_runs(tenant=tenant, page_size=_REQUEST_ID_WINDOW)
        return next((r for r in page.items if r.labels.get("request_id") == request_id), None)

    async def CreateRun(  # noqa: N802 - gRPC method name
        self, request: run_pb2.CreateRunRequest, context: grpc.aio.ServicerContext
    ) -> run_pb2.CreateRunResponse:
        """Validate, create the run PENDING for the caller's tenant, wake the owner."""
        who = current_principal()
        parsed = parse_create_run(request, self.app)
        if request.request_id:
            existing = await self._existing(who.tenant, request.request_id)
            if existing is not None:
                return run_pb2.CreateRunResponse(run=await run_message(self.app, existing))
        labels: dict[str, Any] = {"requested_phases": list(parsed.requested_phases)}
        if request.request_id:
            labels["request_id"] = request.request_id
        run = await self.app.store.create_run(
            NewRun(
                tenant=who.tenant,
                title=parsed.title,
                idea=parsed.idea_document(),
                phases=parsed.phases,
                budget=parsed.budget,
                policy=parsed.policy,
                created_by=who.subject,
                labels=labels,
            ),
            events=[Event(ev.RUN_CREATED, {"phases": list(parsed.phases), "title": parsed.title})],
        )
        self.app.wake(run.id)
        return run_pb2.CreateRunResponse(run=await run_message(self.app, run))

    async def GetRun(  # noqa: N802
        self, request: run_pb2.GetRunRequest, context: grpc.aio.ServicerContext
    ) -> run_pb2.GetRunResponse:
        """One run of the caller's tenant."""
        run = await tenant_run(self.app, request.run_id)
        return run_pb2.GetRunResponse(run=await run_message(self.app, run))

    async def ListRuns(  # noqa: N802
        self, request: run_pb2.ListRunsRequest, context: grpc.aio.ServicerContext
    ) -> run_pb2.ListRunsResponse:
        """The tenant's runs, newest first, optionally by status."""
        statuses = [
            enum_from_proto(RunStatus, s, field=f"statuses[{i}]") for i, s in enumerate(request.statuses)
        ]
        page = await self.app.store.list_runs(
            tenant=current_principal().tenant,
            statuses=statuses,
            page_size=page_bounds(request.page_size),
            page_token=request.page_token,
        )
        runs = await asyncio.gather(*(run_message(self.app, r) for r in page.items))
        return run_pb2.ListRunsResponse(runs=runs, next_page_token=page.next_token)

    async def _stop(self, run_id: str, new: RunStatus, event: str, reason: str) -> RunRecord:
        if len(reason) > 2000:
            raise InvalidInput("reason must be at most 2,000 characters", field="reason")
        run = await tenant_run(self.app, run_id)
        expected = (
            _CANCELLABLE if new is RunStatus.CANCELLED else [RunStatus.RUNNING, RunStatus.AWAITING_INPUT]
        )
        if run.status not in expected:
            raise Conflict(
                f"run {run.id} is {run.status.value} and cannot be {new.value.lower()}", run_id=run.id
            )
        payload = {"reason": reason, "by": current_principal().subject}
        updated = await self.app.store.transition_run(
            run.id, expected=expected, new=new, reason=reason or event, events=[Event(event, payload)]
        )
        if new is RunStatus.CANCELLED:
            await self.app.store.cancel_tasks(run.id, events=[Event("tasks.cancelled", payload)])
        self.app.wake(run.id)  # the driver notices at once instead of at its next poll
        return updated

    async def CancelRun(  # noqa: N802
        self, request: run_pb2.CancelRunRequest, context: grpc.aio.ServicerContext
    ) -> run_pb2.CancelRunResponse:
        """Cancel a non-terminal run and its open tasks."""
        run = await self._stop(request.run_id, RunStatus.CANCELLED, ev.RUN_CANCELLED, request.reason)
        return run_pb2.CancelRunResponse(run=await run_message(self.app, run))

    async def PauseRun(  # noqa: N802
        self, request: run_pb2.PauseRunRequest, context: grpc.aio.ServicerContext
    ) -> run_pb2.PauseRunResponse:
        """Pause a running run; in-flight tasks finish, no new ones start."""
        run = await self._stop(request.run_id, RunStatus.PAUSED, ev.RUN_PAUSED, request.reason)
        return run_pb2.PauseRunResponse(run=await run_message(self.app, run))

    async def ResumeRun(  # noqa: N802
        self, request: run_pb2.ResumeRunRequest, context: grpc.aio.ServicerContext
    ) -> run_pb2.ResumeRunResponse:
        """Resume a paused, budget-exhausted or waiting run (a failed gate needs a waiver)."""
        run = await tenant_run(self.app, request.run_id)
        if run.status is RunStatus.NEEDS_WAIVER:
            raise Conflict(
                f"run {run.id} waits for a gate waiver: waive it with GateService.WaiveGate", run_id=run.id
            )
        run = await resume_run(self.app, run, allowed=_RESUMABLE, payload={"by": current_principal().subject})
        return run_pb2.ResumeRunResponse(run=await run_message(self.app, run))

    async def WatchRun(  # noqa: N802
        self, request: run_pb2.WatchRunRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[run_pb2.WatchRunResponse]:
        """Stored events after ``after_seq``, then live ones until the run has ended."""
        if request.after_seq < 0:
            raise InvalidInput("after_seq must not be negative", field="after_seq")
        run = await tenant_run(self.app, request.run_id)
        async for row in follow_ledger(
            self.app.store,
            run.id,
            after_seq=request.after_seq,
            poll_seconds=self.app.config.watch_poll_seconds,
            hub=self.hub,
        ):
            yield run_pb2.WatchRunResponse(event=event_to_proto(row))

    async def ListRunEvents(  # noqa: N802
        self, request: run_pb2.ListRunEventsRequest, context: grpc.aio.ServicerContext
    ) -> run_pb2.ListRunEventsResponse:
        """Stored events in sequence order, paged by sequence number."""
        if request.after_seq < 0:
            raise InvalidInput("after_seq must not be negative", field="after_seq")
        size = page_bounds(request.page_size, default=100, maximum=1000)
        run = await tenant_run(self.app, request.run_id)
        after = max(request.after_seq, decode_cursor(request.page_token))
        rows = await self.app.store.list_events(run.id, after_seq=after, limit=size + 1)
        more = len(rows) > size
        rows = rows[:size]
        return run_pb2.ListRunEventsResponse(
            events=[event_to_proto(r) for r in rows],
            next_page_token=encode_cursor(rows[-1].seq) if more else "",
        )
