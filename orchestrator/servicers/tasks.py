"""TaskService: submit agent tasks for a run directly, and read any task.

Submitted tasks bypass the phase planner (benchmarks, replays, tooling): they run on the
agent hosts like planned tasks, metered to the run's budget (or to a task scope when the
submission carries a budget), and their results are committed exactly once per
idempotency key. Their task keys are prefixed ``submitted:`` so the phase engine never
mistakes one for a slot of its own plan. A batch is validated whole before anything is
written, and written in one transaction.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, replace
from typing import Any

import grpc

from ideamine._proto.ideamine.v1 import catalog_pb2, task_pb2, task_pb2_grpc
from ideamine.canonical import content_hash
from ideamine.convert import (
    agent_definition_from_dict,
    agent_definition_to_proto,
    budget_from_proto,
    from_struct,
    optional_phase,
    phase_from_proto,
    phase_or_unspecified,
    task_to_proto,
    usage_to_proto,
)
from ideamine.errors import FieldViolation, InvalidInput, NotFound
from ideamine.ids import new_id
from ideamine.store.records import Event, NewTask, RunRecord, UsageTotals
from ideamine.waiting import cancel_and_wait
from orchestrator.auth import current_principal
from orchestrator.engine import events as ev
from orchestrator.servicers._common import App, require, tenant_run, violations_message
from orchestrator.servicers.host_registry import is_live

__all__ = ["TaskServicer", "MAX_BATCH", "SUBMITTED_PREFIX"]

#: most tasks one SubmitTasks call may carry
MAX_BATCH = 1000
#: task-key prefix of submitted tasks (never a slot key of the phase engine)
SUBMITTED_PREFIX = "submitted:"


@dataclass(frozen=True)
class _Valid:
    """One submission that passed validation, with what it resolved to."""

    submission: task_pb2.TaskSubmission
    run: RunRecord
    agent: catalog_pb2.AgentDefinition
    key: str  #: the agent's task key it runs
    phase: str  #: the phase named in the submission ("" = the agent's)


class TaskServicer(task_pb2_grpc.TaskServiceServicer):  # type: ignore[misc]
    """Direct task submission and task lookup for the caller's tenant.

    A call costs two store reads per run it names (the tenant check, the run's budget
    scopes), one per distinct input artifact, one per task with its own budget (each
    group concurrently) and the one write transaction. Host catalogues are read only for
    agents the local registry lacks, then at most once per host heartbeat interval
    unless an agent is still unknown (so a host gone silent may be named for that long).
    """

    def __init__(self, app: App) -> None:
        self.app = app
        self._local = {e.name: agent_definition_to_proto(e) for e in app.registry.agents}
        self._hosted: dict[str, catalog_pb2.AgentDefinition] = {}
        self._hosted_at = -math.inf

    async def _agents(self, names: Set[str]) -> Mapping[str, catalog_pb2.AgentDefinition]:
        """Known agents: the local registry, plus live hosts' catalogues when ``names`` needs them."""
        missing = names - self._local.keys()
        if not missing:
            return self._local
        stale = time.monotonic() - self._hosted_at > self.app.config.host_heartbeat_seconds
        if stale or missing - self._hosted.keys():
            hosted: dict[str, catalog_pb2.AgentDefinition] = {}
            for host in await self.app.store.list_hosts():
                if is_live(host, heartbeat_seconds=self.app.config.host_heartbeat_seconds):
                    for raw in host.agents:
                        hosted.setdefault(str(raw.get("name", "")), agent_definition_from_dict(raw))
            self._hosted, self._hosted_at = hosted, time.monotonic()
        return {**self._hosted, **self._local}

    async def _runs(self, run_ids: Iterable[str]) -> dict[str, tuple[RunRecord, str]]:
        """Each run (another tenant's: NOT_FOUND) with its run budget scope id, read once per run."""

        async def one(run_id: str) -> tuple[RunRecord, str]:
            # both reads at once: one round trip of latency instead of two
            scopes = asyncio.create_task(self.app.store.get_budget_scopes(run_id))
            try:
                run = await tenant_run(
                    self.app, run_id
                )  # the caller's run, else NOT_FOUND / INVALID_ARGUMENT
            except BaseException:
                await cancel_and_wait([scopes])  # its own error (a malformed id) is moot
                raise
            return run, next(s.id for s in await scopes if s.kind == "run")

        ids = list(dict.fromkeys(run_ids))
        return dict(zip(ids, await asyncio.gather(*(one(r) for r in ids)), strict=True))

    async def _artifact_runs(self, artifact_ids: Iterable[str]) -> dict[str, str | None]:
        """The run of each distinct artifact id (None: no such artifact), read concurrently."""

        async def one(artifact_id: str) -> str | None:
            try:
                return (await self.app.store.get_artifact(artifact_id)).run_id
            except NotFound:
                return None

        ids = list(dict.fromkeys(artifact_ids))
        return dict(zip(ids, await asyncio.gather(*(one(a) for a in ids)), strict=True))

    async def _validate(
        self, request: task_pb2.SubmitTasksRequest
    ) -> tuple[list[_Valid], dict[str, tuple[RunRecord, str]], list[FieldViolation]]:
        errs: list[FieldViolation] = []
        if not request.tasks:
            errs.append(FieldViolation("tasks", "at least one task is required"))
        if len(request.tasks) > MAX_BATCH:
            errs.append(FieldViolation("tasks", f"at most {MAX_BATCH} tasks per call"))
        if len(request.request_id) > 200:
            errs.append(FieldViolation("request_id", "must be at most 200 characters"))
        batch = request.tasks[:MAX_BATCH]
        agents = await self._agents({t.agent for t in batch if t.agent})
        runs = await self._runs(t.run_id for t in batch if t.run_id)
        artifacts = await self._artifact_runs(a for t in batch if t.run_id for a in t.input_artifact_ids)
        valid = []
        for i, t in enumerate(batch):
            where = f"tasks[{i}]"
            if not t.run_id:
                errs.append(FieldViolation(f"{where}.run_id", "is required"))
                continue
            agent = agents.get(t.agent)
            if agent is None:
                errs.append(
                    FieldViolation(
                        f"{where}.agent", f"unknown agent {t.agent!r}" if t.agent else "is required"
                    )
                )
                continue
            keys = [k for k in agent.task_key.split(",") if k]
            key = t.task_key or (keys[0] if keys else "")
            if key not in keys:
                errs.append(FieldViolation(f"{where}.task_key", f"agent {t.agent} handles {', '.join(keys)}"))
                continue
            try:
                phase = optional_phase(t.phase, field=f"{where}.phase")
            except InvalidInput as exc:
                errs.extend(exc.violations)
                continue
            if phase is not None and phase_or_unspecified(phase) != agent.phase:
                errs.append(FieldViolation(f"{where}.phase", f"agent {t.agent} works in another phase"))
                continue
            errs.extend(
                FieldViolation(f"{where}.input_artifact_ids[{j}]", "no such artifact in the run")
                for j, artifact_id in enumerate(t.input_artifact_ids)
                if artifacts[artifact_id] != t.run_id
            )
            valid.append(_Valid(t, runs[t.run_id][0], agent, key, phase or ""))
        return valid, runs, errs

    async def SubmitTasks(  # noqa: N802
        self, request: task_pb2.SubmitTasksRequest, context: grpc.aio.ServicerContext
    ) -> task_pb2.SubmitTasksResponse:
        """Validate the whole batch, create every task in one transaction, publish.

        Submissions with one idempotency key (identical tasks of one request) become one
        task, returned at each of their positions. A batch may span runs of the tenant.
        """
        valid, runs, errs = await self._validate(request)
        if errs:
            raise InvalidInput(f"invalid tasks: {violations_message(errs)}", violations=errs)
        planned = [
            (v, _new_task(v, request.request_id, self.app.catalogue.defaults.max_deliveries)) for v in valid
        ]
        first: dict[str, tuple[_Valid, NewTask]] = {}
        for v, n in planned:
            first.setdefault(n.idempotency_key, (v, n))
        scopes = await asyncio.gather(*(self._scope(v, n, runs[n.run_id][1]) for v, n in first.values()))
        new = [
            replace(n, input={**n.input, "budget_scope_id": scope})
            for (_, n), scope in zip(first.values(), scopes, strict=True)
        ]
        created = await self.app.store.create_tasks(
            new,
            events=[
                Event(
                    ev.TASK_QUEUED,
                    {"task_key": n.task_key, "agent": n.agent, "submitted_by": current_principal().subject},
                    phase=n.phase,
                    task_id=n.id,
                )
                for n in new
            ],
        )
        await self.app.flush_outbox()
        by_key = {t.idempotency_key: t for t in created}
        return task_pb2.SubmitTasksResponse(
            tasks=[task_to_proto(by_key[n.idempotency_key]) for _, n in planned]
        )

    async def _scope(self, v: _Valid, task: NewTask, run_scope_id: str) -> str:
        """The budget scope a task is metered to: its own when the submission sets limits."""
        b = v.submission.budget
        if not (v.submission.HasField("budget") and any((b.max_tokens, b.max_usd, b.max_wall_clock_seconds))):
            return run_scope_id
        scope = await self.app.store.ensure_budget_scope(
            task.run_id, kind="task", name=str(task.id), limits=budget_from_proto(b), parent_id=run_scope_id
        )
        return scope.id

    async def GetTask(  # noqa: N802
        self, request: task_pb2.GetTaskRequest, context: grpc.aio.ServicerContext
    ) -> task_pb2.GetTaskResponse:
        """One task of the caller's tenant, with its outputs and usage."""
        task_id = require(request.task_id, "task_id", max_chars=100)
        task = await self.app.store.get_task(task_id)
        try:
            await tenant_run(self.app, task.run_id)
        except NotFound:
            raise NotFound(f"task {task_id} not found", task_id=task_id) from None
        result, calls = await asyncio.gather(
            self.app.store.get_task_result(task.idempotency_key),
            self.app.store.list_llm_calls(task_id=task.id),
        )
        outputs: Sequence[str] = result.artifact_ids if result is not None else ()
        return task_pb2.GetTaskResponse(
            task=task_to_proto(task, output_artifact_ids=outputs, usage=usage_to_proto(UsageTotals.of(calls)))
        )


def _new_task(v: _Valid, request_id: str, max_deliveries: int) -> NewTask:
    """The task a submission asks for (budget scope still unset) and its idempotency key.

    The key covers run, phase, agent and version, task key, input and the request id (or,
    without one, the new task's id, so that only a retried request repeats a key).
    """
    phase = v.phase or phase_from_proto(v.agent.phase)
    task_id = new_id()
    payload: dict[str, Any] = {
        **from_struct(v.submission.input),
        "task": v.key,
        "budget_scope_id": "",
        "input_artifact_ids": list(v.submission.input_artifact_ids),
    }
    idem = content_hash(
        {
            "run": v.run.id,
            "phase": phase,
            "agent": v.agent.name,
            "version": v.agent.version,
            "task_key": v.key,
            "input": payload,
            "request_id": request_id or task_id,
        }
    )
    return NewTask(
        id=task_id,
        run_id=v.run.id,
        phase=phase,
        task_key=f"{SUBMITTED_PREFIX}{v.key}:{task_id}",
        agent=v.agent.name,
        agent_version=v.agent.version,
        idempotency_key=idem,
        input=payload,
        max_deliveries=max_deliveries,
    )
