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
from collections.abc import Sequence
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
from ideamine.store.records import Event, NewTask, RunRecord
from orchestrator.auth import current_principal
from orchestrator.engine import events as ev
from orchestrator.servicers._common import App, require, tenant_run, violations_message
from orchestrator.servicers.host_registry import is_live

__all__ = ["TaskServicer", "MAX_BATCH", "SUBMITTED_PREFIX"]

#: most tasks one SubmitTasks call may carry
MAX_BATCH = 1000
#: task-key prefix of submitted tasks (never a slot key of the phase engine)
SUBMITTED_PREFIX = "submitted:"


class TaskServicer(task_pb2_grpc.TaskServiceServicer):  # type: ignore[misc]
    """Direct task submission and task lookup for the caller's tenant."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def _agents(self) -> dict[str, catalog_pb2.AgentDefinition]:
        """Known agents: the local registry plus live hosts' catalogues."""
        agents = {e.name: agent_definition_to_proto(e) for e in self.app.registry.agents}
        for host in await self.app.store.list_hosts():
            if is_live(host, heartbeat_seconds=self.app.config.host_heartbeat_seconds):
                for raw in host.agents:
                    agents.setdefault(str(raw.get("name", "")), agent_definition_from_dict(raw))
        return agents

    async def _validate(
        self, request: task_pb2.SubmitTasksRequest
    ) -> tuple[
        list[tuple[task_pb2.TaskSubmission, RunRecord, catalog_pb2.AgentDefinition, str, str]],
        list[FieldViolation],
    ]:
        errs: list[FieldViolation] = []
        if not request.tasks:
            errs.append(FieldViolation("tasks", "at least one task is required"))
        if len(request.tasks) > MAX_BATCH:
            errs.append(FieldViolation("tasks", f"at most {MAX_BATCH} tasks per call"))
        if len(request.request_id) > 200:
            errs.append(FieldViolation("request_id", "must be at most 200 characters"))
        agents = await self._agents()
        runs: dict[str, RunRecord] = {}
        valid = []
        for i, t in enumerate(request.tasks[:MAX_BATCH]):
            where = f"tasks[{i}]"
            if not t.run_id:
                errs.append(FieldViolation(f"{where}.run_id", "is required"))
                continue
            if t.run_id not in runs:
                runs[t.run_id] = await tenant_run(self.app, t.run_id)  # another tenant's run: NOT_FOUND
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
            for j, artifact_id in enumerate(t.input_artifact_ids):
                try:
                    a = await self.app.store.get_artifact(artifact_id)
                    if a.run_id != t.run_id:
                        raise NotFound("artifact of another run")
                except NotFound:
                    errs.append(
                        FieldViolation(f"{where}.input_artifact_ids[{j}]", "no such artifact in the run")
                    )
            valid.append((t, runs[t.run_id], agent, key, phase or ""))
        return valid, errs

    async def SubmitTasks(  # noqa: N802
        self, request: task_pb2.SubmitTasksRequest, context: grpc.aio.ServicerContext
    ) -> task_pb2.SubmitTasksResponse:
        """Validate the whole batch, create every task in one transaction, publish."""
        valid, errs = await self._validate(request)
        if errs:
            raise InvalidInput(f"invalid tasks: {violations_message(errs)}", violations=errs)
        new: list[NewTask] = []
        for t, run, agent, key, phase in valid:
            new.append(await self._new_task(t, run, agent, key, phase, request.request_id))
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
        return task_pb2.SubmitTasksResponse(tasks=[task_to_proto(t) for t in created])

    async def _new_task(
        self,
        t: task_pb2.TaskSubmission,
        run: RunRecord,
        agent: catalog_pb2.AgentDefinition,
        key: str,
        phase: str,
        request_id: str,
    ) -> NewTask:
        phase = phase or phase_from_proto(agent.phase)
        task_id = new_id()
        scopes = await self.app.store.get_budget_scopes(run.id)
        scope = next(s for s in scopes if s.kind == "run")
        if t.HasField("budget") and any(
            (t.budget.max_tokens, t.budget.max_usd, t.budget.max_wall_clock_seconds)
        ):
            scope = await self.app.store.ensure_budget_scope(
                run.id, kind="task", name=task_id, limits=budget_from_proto(t.budget), parent_id=scope.id
            )
        payload: dict[str, Any] = {
            **from_struct(t.input),
            "task": key,
            "budget_scope_id": scope.id,
            "input_artifact_ids": list(t.input_artifact_ids),
        }
        idem = content_hash(
            {
                "run": run.id,
                "phase": phase,
                "agent": agent.name,
                "version": agent.version,
                "task_key": key,
                "input": payload | {"budget_scope_id": ""},
                "request_id": request_id or task_id,
            }
        )
        return NewTask(
            id=task_id,
            run_id=run.id,
            phase=phase,
            task_key=f"{SUBMITTED_PREFIX}{key}:{task_id}",
            agent=agent.name,
            agent_version=agent.version,
            idempotency_key=idem,
            input=payload,
            max_deliveries=self.app.catalogue.defaults.max_deliveries,
        )

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
            task=task_to_proto(task, output_artifact_ids=outputs, usage=usage_to_proto(calls))
        )
