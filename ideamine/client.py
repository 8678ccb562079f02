"""The async Python client of the orchestrator API.

::

    async with IdeaMineClient("127.0.0.1:50051", token=jwt) as client:
        run = await client.create_run(load_run_file("examples/orchestrations/todo-app.yaml"))
        async for event in client.watch_run(run.id):
            print(event.seq, event.type)

- **Typed**: methods take plain Python values and return the API's messages
  (``ideamine._proto.ideamine.v1``); failures raise the error tree of
  :mod:`ideamine.errors` (INVALID_ARGUMENT → :class:`~ideamine.errors.InvalidInput` with
  its field violations, NOT_FOUND → NotFound, FAILED_PRECONDITION → Conflict,
  PERMISSION_DENIED, UNAUTHENTICATED, RESOURCE_EXHAUSTED → BudgetExceeded); anything
  else is an :class:`RpcError` carrying the status code.
- **Token handling**: ``token`` is sent as ``authorization: Bearer …`` on every call.
- **Retries**: a call that fails with UNAVAILABLE (server restarting, replica gone) is
  retried with capped exponential backoff and jitter. Creating runs and submitting tasks
  carry a request id (generated when not given), so a retried create never makes two.
  :meth:`IdeaMineClient.watch_run` reconnects after the last sequence number it yielded.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self, TypeVar, cast

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from ideamine import tracing
from ideamine._proto.ideamine.v1 import (
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
    common_pb2,
    gate_pb2,
    gate_pb2_grpc,
    phase_pb2,
    phase_pb2_grpc,
    run_pb2,
    run_pb2_grpc,
    task_pb2,
    task_pb2_grpc,
)
from ideamine.convert import enum_to_proto, phase_to_proto, run_request_to_proto
from ideamine.enums import RunStatus
from ideamine.errors import (
    BudgetExceeded,
    Conflict,
    FieldViolation,
    IdeaMineError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from ideamine.runfile import RunRequest

__all__ = ["IdeaMineClient", "RpcError", "error_from_rpc"]

T = TypeVar("T")

_TYPED: dict[grpc.StatusCode, type[IdeaMineError]] = {
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.FAILED_PRECONDITION: Conflict,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.RESOURCE_EXHAUSTED: BudgetExceeded,
}


def _wire(status: RunStatus) -> Any:
    """A status as its proto number; ``Any`` for the enum-typed stubs."""
    return enum_to_proto(status)


def _phase(name: str | None) -> Any:
    """A phase name as its proto number (0 = unspecified); ``Any`` for the enum-typed stubs."""
    return phase_to_proto(name) if name else 0


class RpcError(IdeaMineError):
    """A call failed with a status outside the error tree (UNAVAILABLE, INTERNAL, …)."""

    reason = "RPC_ERROR"

    def __init__(self, message: str, *, code: grpc.StatusCode) -> None:
        super().__init__(message, retryable=code is grpc.StatusCode.UNAVAILABLE)
        self.code = code


def error_from_rpc(err: grpc.aio.AioRpcError) -> IdeaMineError:
    """The :mod:`ideamine.errors` exception for a failed call (field violations kept)."""
    code, message = err.code(), err.details() or err.code().name
    if code is grpc.StatusCode.INVALID_ARGUMENT:
        violations: list[FieldViolation] = []
        status = rpc_status.from_call(err)
        for detail in status.details if status is not None else ():
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                violations += [FieldViolation(v.field, v.description) for v in bad.field_violations]
        return InvalidInput(message, violations=violations)
    cls = _TYPED.get(code)
    return cls(message) if cls is not None else RpcError(f"{code.name}: {message}", code=code)


class IdeaMineClient:
    """Async client of every public orchestrator service. Use as ``async with``."""

    def __init__(
        self,
        address: str,
        *,
        token: str | None = None,
        timeout: float = 30.0,
        max_attempts: int = 5,
        initial_backoff: float = 0.2,
        max_backoff: float = 5.0,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        """Configure; the channel connects lazily on the first call.

        Args:
            address: ``host:port`` of the orchestrator (or the gateway's gRPC port).
            token: bearer JWT sent with every call; None for an ``--insecure-local`` server.
            timeout: deadline of one unary call, in seconds.
            max_attempts: attempts of a call that keeps failing with UNAVAILABLE.
            initial_backoff: first retry delay; doubles each retry up to ``max_backoff``.
            max_backoff: cap of the retry delay.
            credentials: TLS channel credentials; None for plaintext.
        """
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.address = address
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        traced = tracing.grpc_client_interceptors()  # none unless tracing is configured
        self._channel = (
            grpc.aio.secure_channel(address, credentials, interceptors=traced)
            if credentials is not None
            else grpc.aio.insecure_channel(address, interceptors=traced)
        )
        ch = self._channel
        self.runs = run_pb2_grpc.RunServiceStub(ch)
        self.phases = phase_pb2_grpc.PhaseServiceStub(ch)
        self.artifacts = artifact_pb2_grpc.ArtifactServiceStub(ch)
        self.clarifications = clarification_pb2_grpc.ClarificationServiceStub(ch)
        self.gates = gate_pb2_grpc.GateServiceStub(ch)
        self.budgets = budget_pb2_grpc.BudgetServiceStub(ch)
        self.checkpoints = checkpoint_pb2_grpc.CheckpointServiceStub(ch)
        self.catalog = catalog_pb2_grpc.CatalogServiceStub(ch)
        self.tasks = task_pb2_grpc.TaskServiceStub(ch)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the channel (idempotent)."""
        await self._channel.close()

    def _delay(self, attempt: int) -> float:
        return min(self.max_backoff, self.initial_backoff * 2.0 ** (attempt - 1)) * random.uniform(0.5, 1.0)

    async def _call(self, method: Callable[..., Awaitable[Any]], request: Any, response: type[T]) -> T:
        """One unary call with bearer metadata, deadline, and retries on UNAVAILABLE.

        ``response`` is the expected message class (the generated stubs are untyped).
        """
        for attempt in range(1, self.max_attempts + 1):
            try:
                return cast(T, await method(request, metadata=self._metadata, timeout=self.timeout))
            except grpc.aio.AioRpcError as err:
                if err.code() is not grpc.StatusCode.UNAVAILABLE or attempt == self.max_attempts:
                    raise error_from_rpc(err) from err
            await asyncio.sleep(self._delay(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _all(
        self, method: Callable[..., Awaitable[Any]], request: Any, response: type[Any], field: str
    ) -> list[Any]:
        """Every item of a paged listing: follow ``next_page_token`` to the last page."""
        items: list[Any] = []
        while True:
            page = await self._call(method, request, response)
            items += getattr(page, field)
            if not page.next_page_token:
                return items
            request.page_token = page.next_page_token

    # ----------------------------------------------------------------------- runs
    async def create_run(
        self, run: RunRequest | run_pb2.Run, *, request_id: str | None = None
    ) -> run_pb2.Run:
        """Create a run from a parsed run file (or a Run message); returns it PENDING."""
        message = run_request_to_proto(run) if isinstance(run, RunRequest) else run
        request = run_pb2.CreateRunRequest(run=message, request_id=request_id or str(uuid.uuid4()))
        return (await self._call(self.runs.CreateRun, request, run_pb2.CreateRunResponse)).run

    async def get_run(self, run_id: str) -> run_pb2.Run:
        """One run."""
        return (
            await self._call(self.runs.GetRun, run_pb2.GetRunRequest(run_id=run_id), run_pb2.GetRunResponse)
        ).run

    async def list_runs(
        self, *, statuses: Iterable[RunStatus] = (), page_size: int = 0, page_token: str = ""
    ) -> run_pb2.ListRunsResponse:
        """One page of the tenant's runs, newest first."""
        request = run_pb2.ListRunsRequest(
            statuses=[_wire(s) for s in statuses], page_size=page_size, page_token=page_token
        )
        return await self._call(self.runs.ListRuns, request, run_pb2.ListRunsResponse)

    async def cancel_run(self, run_id: str, reason: str = "") -> run_pb2.Run:
        """Cancel a run."""
        return (
            await self._call(
                self.runs.CancelRun,
                run_pb2.CancelRunRequest(run_id=run_id, reason=reason),
                run_pb2.CancelRunResponse,
            )
        ).run

    async def pause_run(self, run_id: str, reason: str = "") -> run_pb2.Run:
        """Pause a running run."""
        return (
            await self._call(
                self.runs.PauseRun,
                run_pb2.PauseRunRequest(run_id=run_id, reason=reason),
                run_pb2.PauseRunResponse,
            )
        ).run

    async def resume_run(self, run_id: str) -> run_pb2.Run:
        """Resume a stopped run."""
        return (
            await self._call(
                self.runs.ResumeRun, run_pb2.ResumeRunRequest(run_id=run_id), run_pb2.ResumeRunResponse
            )
        ).run

    async def list_run_events(
        self, run_id: str, *, after_seq: int = 0, page_size: int = 0, page_token: str = ""
    ) -> run_pb2.ListRunEventsResponse:
        """One page of the run's stored events."""
        request = run_pb2.ListRunEventsRequest(
            run_id=run_id, after_seq=after_seq, page_size=page_size, page_token=page_token
        )
        return await self._call(self.runs.ListRunEvents, request, run_pb2.ListRunEventsResponse)

    async def watch_run(self, run_id: str, *, after_seq: int = 0) -> AsyncIterator[run_pb2.RunEvent]:
        """Events of a run until it ends; reconnects after UNAVAILABLE from the last seq seen."""
        seq, failures = after_seq, 0
        while True:
            stream = self.runs.WatchRun(
                run_pb2.WatchRunRequest(run_id=run_id, after_seq=seq), metadata=self._metadata
            )
            try:
                async for response in stream:
                    failures = 0
                    seq = response.event.seq
                    yield response.event
                return
            except grpc.aio.AioRpcError as err:
                failures += 1
                if err.code() is not grpc.StatusCode.UNAVAILABLE or failures >= self.max_attempts:
                    raise error_from_rpc(err) from err
            finally:
                stream.cancel()
            await asyncio.sleep(self._delay(failures))

    # -------------------------------------------------------------------- phases
    async def list_phase_executions(self, run_id: str) -> list[phase_pb2.PhaseExecution]:
        """Every phase execution of a run, in pipeline order."""
        request = phase_pb2.ListPhaseExecutionsRequest(run_id=run_id)
        return await self._all(
            self.phases.ListPhaseExecutions,
            request,
            phase_pb2.ListPhaseExecutionsResponse,
            "phase_executions",
        )

    async def get_phase_execution(self, run_id: str, phase: str) -> phase_pb2.PhaseExecution:
        """One phase of a run, by catalogue name (e.g. ``"story-loop"``)."""
        request = phase_pb2.GetPhaseExecutionRequest(run_id=run_id, phase=_phase(phase))
        return (
            await self._call(self.phases.GetPhaseExecution, request, phase_pb2.GetPhaseExecutionResponse)
        ).phase_execution

    # ----------------------------------------------------------------- artifacts
    async def list_artifacts(
        self,
        run_id: str,
        *,
        phase: str | None = None,
        type: str = "",
        latest_only: bool = False,
        omit_content: bool = False,
    ) -> list[artifact_pb2.Artifact]:
        """Every matching artifact of a run (all pages)."""
        request = artifact_pb2.ListArtifactsRequest(
            run_id=run_id,
            phase=_phase(phase),
            type=type,
            latest_only=latest_only,
            omit_content=omit_content,
            page_size=500,
        )
        return await self._all(
            self.artifacts.ListArtifacts, request, artifact_pb2.ListArtifactsResponse, "artifacts"
        )

    async def get_artifact(self, run_id: str, artifact_id: str) -> artifact_pb2.Artifact:
        """One artifact with its content."""
        request = artifact_pb2.GetArtifactRequest(run_id=run_id, artifact_id=artifact_id)
        return (
            await self._call(self.artifacts.GetArtifact, request, artifact_pb2.GetArtifactResponse)
        ).artifact

    async def render_artifact(self, run_id: str, artifact_id: str) -> str:
        """One artifact as Markdown."""
        request = artifact_pb2.RenderArtifactRequest(run_id=run_id, artifact_id=artifact_id)
        return (
            await self._call(self.artifacts.RenderArtifact, request, artifact_pb2.RenderArtifactResponse)
        ).markdown

    async def export_dossier(self, run_id: str, *, json: bool = False) -> artifact_pb2.ExportDossierResponse:
        """The run's dossier, Markdown by default."""
        fmt = artifact_pb2.DOSSIER_FORMAT_JSON if json else artifact_pb2.DOSSIER_FORMAT_MARKDOWN
        request = artifact_pb2.ExportDossierRequest(run_id=run_id, format=fmt)
        return await self._call(self.artifacts.ExportDossier, request, artifact_pb2.ExportDossierResponse)

    # ------------------------------------------------------------ clarifications
    async def list_questions(self, run_id: str) -> list[clarification_pb2.Question]:
        """The run's questions, oldest first."""
        request = clarification_pb2.ListQuestionsRequest(run_id=run_id, page_size=500)
        return await self._all(
            self.clarifications.ListQuestions, request, clarification_pb2.ListQuestionsResponse, "questions"
        )

    async def answer_question(self, run_id: str, question_id: str, answer: str) -> clarification_pb2.Question:
        """Answer a question as a human."""
        request = clarification_pb2.AnswerQuestionRequest(
            run_id=run_id, question_id=question_id, answer=answer
        )
        return (
            await self._call(
                self.clarifications.AnswerQuestion, request, clarification_pb2.AnswerQuestionResponse
            )
        ).question

    async def list_assumptions(self, run_id: str) -> list[clarification_pb2.Assumption]:
        """The run's assumptions, oldest first."""
        request = clarification_pb2.ListAssumptionsRequest(run_id=run_id, page_size=500)
        return await self._all(
            self.clarifications.ListAssumptions,
            request,
            clarification_pb2.ListAssumptionsResponse,
            "assumptions",
        )

    # --------------------------------------------------------------------- gates
    async def list_gate_evaluations(self, run_id: str) -> list[gate_pb2.GateEvaluation]:
        """The run's gate evaluations, oldest first."""
        request = gate_pb2.ListGateEvaluationsRequest(run_id=run_id, page_size=500)
        return await self._all(
            self.gates.ListGateEvaluations, request, gate_pb2.ListGateEvaluationsResponse, "gate_evaluations"
        )

    async def waive_gate(
        self, run_id: str, phase: str, reason: str, *, expires_at: datetime | None = None
    ) -> gate_pb2.GateEvaluation:
        """Waive a failed gate (admin); ``expires_at`` (aware) makes the waiver lapse then."""
        request = gate_pb2.WaiveGateRequest(run_id=run_id, phase=_phase(phase), reason=reason)
        if expires_at is not None:
            request.expires_at.FromDatetime(expires_at)
        return (await self._call(self.gates.WaiveGate, request, gate_pb2.WaiveGateResponse)).gate_evaluation

    # ------------------------------------------------------------------- budgets
    async def get_budget(self, run_id: str, *, include_tasks: bool = False) -> budget_pb2.GetBudgetResponse:
        """Limits and usage per scope."""
        request = budget_pb2.GetBudgetRequest(run_id=run_id, include_tasks=include_tasks)
        return await self._call(self.budgets.GetBudget, request, budget_pb2.GetBudgetResponse)

    async def raise_budget(
        self, run_id: str, budget: common_pb2.Budget, *, resume: bool = False, reason: str = ""
    ) -> budget_pb2.RaiseBudgetResponse:
        """Raise the run's limits; optionally resume a budget-exhausted run."""
        request = budget_pb2.RaiseBudgetRequest(run_id=run_id, budget=budget, resume=resume, reason=reason)
        return await self._call(self.budgets.RaiseBudget, request, budget_pb2.RaiseBudgetResponse)

    # --------------------------------------------------------------- checkpoints
    async def list_checkpoints(self, run_id: str) -> list[checkpoint_pb2.Checkpoint]:
        """The run's checkpoints, oldest first."""
        request = checkpoint_pb2.ListCheckpointsRequest(run_id=run_id, page_size=500)
        return await self._all(
            self.checkpoints.ListCheckpoints, request, checkpoint_pb2.ListCheckpointsResponse, "checkpoints"
        )

    async def resume_from_checkpoint(self, run_id: str, checkpoint_id: str) -> run_pb2.Run:
        """Resume a stopped run from a checkpoint."""
        request = checkpoint_pb2.ResumeFromCheckpointRequest(run_id=run_id, checkpoint_id=checkpoint_id)
        return (
            await self._call(
                self.checkpoints.ResumeFromCheckpoint, request, checkpoint_pb2.ResumeFromCheckpointResponse
            )
        ).run

    # ------------------------------------------------------------------- catalog
    async def list_phases(self) -> list[catalog_pb2.PhaseDefinition]:
        """The catalogue's phases in pipeline order."""
        request = catalog_pb2.ListPhasesRequest()
        return await self._all(self.catalog.ListPhases, request, catalog_pb2.ListPhasesResponse, "phases")

    async def list_agents(self, *, phase: str | None = None) -> list[catalog_pb2.AgentDefinition]:
        """Registered agents, by phase then name."""
        request = catalog_pb2.ListAgentsRequest(phase=_phase(phase), page_size=500)
        return await self._all(self.catalog.ListAgents, request, catalog_pb2.ListAgentsResponse, "agents")

    # --------------------------------------------------------------------- tasks
    async def submit_tasks(
        self, tasks: Sequence[task_pb2.TaskSubmission], *, request_id: str | None = None
    ) -> list[task_pb2.Task]:
        """Submit agent tasks directly (all or none)."""
        request = task_pb2.SubmitTasksRequest(tasks=tasks, request_id=request_id or str(uuid.uuid4()))
        return list((await self._call(self.tasks.SubmitTasks, request, task_pb2.SubmitTasksResponse)).tasks)

    async def get_task(self, task_id: str) -> task_pb2.Task:
        """One task."""
        return (
            await self._call(
                self.tasks.GetTask, task_pb2.GetTaskRequest(task_id=task_id), task_pb2.GetTaskResponse
            )
        ).task
