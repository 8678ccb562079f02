"""Dispatch (and Heal): create a phase attempt's tasks with bounded parallelism, wait for
them, and heal what stalls or fails.

Each pass re-reads the phase's tasks from the store and decides from that alone, so the
same code resumes a phase after a crash: a slot whose task exists is never created again,
a succeeded task is never re-run.

Healing, by the failure's recorded reason (never by message text):

- stalled (RUNNING, lease expired: no heartbeat for the lease) → re-queued, attempt + 1;
- FAILED and retryable → re-queued after capped exponential backoff with jitter, up to
  ``max_task_retries``;
- FAILED with BUDGET_EXHAUSTED → the phase stops so the run can pause; after the run is
  resumed (with a raised budget) the task is re-queued;
- FAILED non-retryable, or DEAD (deliveries exhausted) → the phase fails.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ideamine import metrics
from ideamine.canonical import content_hash
from ideamine.catalogue import PhaseSpec
from ideamine.enums import RunStatus, TaskStatus
from ideamine.errors import decode_task_error
from ideamine.store.records import ArtifactRecord, BudgetLimits, Event, NewTask, RunRecord, TaskRecord
from orchestrator.engine import events as ev
from orchestrator.engine.artifact_view import PhaseArtifacts
from orchestrator.engine.deps import EngineDeps
from orchestrator.engine.planner import TaskSlot, idempotency_key, ready_slots

__all__ = ["DispatchOutcome", "Dispatcher"]


class DispatchOutcome(enum.Enum):
    """Why dispatch returned."""

    DONE = "done"  #: every slot has a succeeded task
    BUDGET_EXHAUSTED = "budget_exhausted"
    TASK_DEAD = "task_dead"  #: a task failed for good
    STOPPED = "stopped"  #: the run is no longer RUNNING


def _now() -> datetime:
    return datetime.now(UTC)


class Dispatcher:
    """Dispatch loop of one phase attempt."""

    def __init__(
        self, deps: EngineDeps, run: RunRecord, spec: PhaseSpec, artifacts: PhaseArtifacts | None = None
    ) -> None:
        self.deps = deps
        self.store = deps.store
        self.run = run
        self.spec = spec
        #: the phase run's artifact reads (shared by its dispatchers: upstream read once)
        self.artifacts = artifacts or PhaseArtifacts(deps, run, spec)
        self._extra: Mapping[str, Mapping[str, Any]] = {}

    async def _phase_scope(self) -> str:
        if self.artifacts.budget_scope_id is None:
            scopes = await self.store.get_budget_scopes(self.run.id)
            run_scope = next((s for s in scopes if s.kind == "run"), None)
            scope = await self.store.ensure_budget_scope(
                self.run.id,
                kind="phase",
                name=self.spec.name,
                limits=BudgetLimits(
                    tokens=self.spec.budget.tokens,
                    wall_clock_seconds=self.spec.budget.wall_clock_minutes * 60,
                ),
                parent_id=run_scope.id if run_scope else None,
            )
            self.artifacts.budget_scope_id = scope.id
        return self.artifacts.budget_scope_id

    async def dispatch(
        self,
        slots: Sequence[TaskSlot],
        *,
        attempt: int,
        rerun: set[str] | None,
        feedback: Sequence[str],
        extra_input: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> DispatchOutcome:
        """Run the attempt's slots to completion (or until something stops it).

        ``extra_input`` adds fields to the input of the task of each slot key (e.g. the
        questions a clarifier task must answer).
        """
        self._extra = extra_input or {}
        while True:
            run = await self.store.get_run(self.run.id)
            if run.status is not RunStatus.RUNNING:
                return DispatchOutcome.STOPPED
            latest = self._latest_by_key(await self.store.list_tasks(self.run.id, phase=self.spec.name))
            done: set[str] = set()
            started: set[str] = set()
            active = 0
            for slot in slots:
                task = latest.get(slot.key)
                if task is None or (rerun is not None and slot.key in rerun and task.phase_attempt < attempt):
                    continue
                started.add(slot.key)
                outcome = await self._heal(run, task)
                if outcome is not None:
                    return outcome
                if task.status is TaskStatus.SUCCEEDED:
                    done.add(slot.key)
                elif task.status in (TaskStatus.QUEUED, TaskStatus.RUNNING, TaskStatus.FAILED):
                    active += 1
            if len(done) == len(slots):
                return DispatchOutcome.DONE
            room = self.spec.parallelism - active
            ready = ready_slots(slots, done, started)[: max(room, 0)]
            if ready:
                await self._create(ready, attempt=attempt, rerun=rerun, feedback=feedback)
                continue
            await self.deps.waker.wait(self.run.id, self.deps.settings.poll_seconds)

    @staticmethod
    def _latest_by_key(tasks: Sequence[TaskRecord]) -> dict[str, TaskRecord]:
        latest: dict[str, TaskRecord] = {}
        for t in tasks:  # oldest first, so later attempts win
            prev = latest.get(t.task_key)
            if prev is None or t.phase_attempt >= prev.phase_attempt:
                latest[t.task_key] = t
        return latest

    async def _heal(self, run: RunRecord, task: TaskRecord) -> DispatchOutcome | None:
        """Heal one task if it needs it; return an outcome when the phase must stop."""
        settings = self.deps.settings
        now = _now()
        if (
            task.status is TaskStatus.RUNNING
            and task.lease_expires_at is not None
            and task.lease_expires_at < now
        ):
            if task.attempt >= task.max_deliveries:  # every attempt lost its worker: a poison task
                return await self._bury(task, f"{task.attempt} attempts lost their worker")
            await self._requeue(task, "stalled: no heartbeat within the lease", ev.TASK_STALLED)
        elif task.status is TaskStatus.FAILED:
            reason, retryable, message = decode_task_error(task.error)
            failed_at = task.finished_at or task.updated_at
            if reason == "BUDGET_EXHAUSTED":
                if failed_at < run.updated_at:  # the run was resumed since: try again
                    await self._requeue(task, "budget raised", ev.TASK_RETRIED)
                    return None
                return DispatchOutcome.BUDGET_EXHAUSTED
            if not retryable or task.attempt > settings.max_task_retries:
                await self.store.append_events(
                    self.run.id,
                    [
                        Event(
                            ev.TASK_DEAD,
                            {"reason": reason, "message": message},
                            phase=self.spec.name,
                            task_id=task.id,
                        )
                    ],
                )
                return DispatchOutcome.TASK_DEAD
            backoff = min(
                settings.retry_max_seconds, settings.retry_initial_seconds * 2 ** (task.attempt - 1)
            )
            due = failed_at + timedelta(seconds=backoff * random.uniform(0.5, 1.0))
            if now >= due:
                await self._requeue(task, f"retry after {reason}", ev.TASK_RETRIED)
        elif task.status is TaskStatus.DEAD:
            return DispatchOutcome.TASK_DEAD
        elif task.status is TaskStatus.CANCELLED:
            return DispatchOutcome.STOPPED
        return None

    async def _bury(self, task: TaskRecord, reason: str) -> DispatchOutcome | None:
        """Mark ``task`` DEAD (its deliveries are used up): the phase fails."""
        from ideamine.errors import AgentError, Conflict, encode_task_error

        error = encode_task_error(AgentError(f"dead-lettered: {reason}"))
        event = Event(
            ev.TASK_DEAD, {"reason": "DEAD", "message": reason}, phase=self.spec.name, task_id=task.id
        )
        try:
            await self.store.fail_task(
                task.id, attempt=task.attempt, error=error, status=TaskStatus.DEAD, events=[event]
            )
        except Conflict:
            return None  # it moved meanwhile (finished, or buried by a worker): re-read next pass
        return DispatchOutcome.TASK_DEAD

    async def _requeue(self, task: TaskRecord, reason: str, event: str) -> None:
        from ideamine.errors import Conflict

        try:
            await self.store.requeue_task(
                task.id,
                attempt=task.attempt,
                reason=reason,
                events=[
                    Event(
                        event,
                        {"reason": reason, "attempt": task.attempt + 1},
                        phase=self.spec.name,
                        task_id=task.id,
                    )
                ],
            )
        except Conflict:
            return  # someone else moved it first (worker finished, another healer); re-read next pass
        metrics.TASKS_REQUEUED.labels(phase=self.spec.name, reason=event.removeprefix("task.")).inc()
        if self.deps.flush_outbox is not None:
            await self.deps.flush_outbox()

    def _input_hashes(self, slot: TaskSlot, records: Sequence[ArtifactRecord]) -> list[str]:
        upstream = self.artifacts.upstream
        before = (
            {a for key in slot.task.after for t in [self.spec.task(key)] for a in t.produces}
            if slot.task.after and not slot.task.extension
            else set()
        )
        return [
            r.sha256
            for r in records
            if r.phase in upstream
            or (r.phase == self.spec.name and r.type in before and r.key == (slot.story_id or ""))
        ]

    async def _create(
        self, ready: Sequence[TaskSlot], *, attempt: int, rerun: set[str] | None, feedback: Sequence[str]
    ) -> None:
        scope_id = await self._phase_scope()
        records = await self.artifacts.records()  # once for the batch, not per slot
        stories: dict[str, Any] = {}
        if any(s.story_id for s in ready):
            us = [r for r in records if r.type == "user-stories"]
            if us:
                stories = {str(s["id"]): s for s in us[-1].content.get("stories", []) if isinstance(s, dict)}
        deadline = _now() + timedelta(minutes=self.spec.budget.wall_clock_minutes)
        new: list[NewTask] = []
        for slot in ready:
            fb = list(feedback) if rerun is not None and slot.key in rerun else []
            payload: dict[str, Any] = {
                **self._extra.get(slot.key, {}),
                "task": slot.task.key,
                "budget_scope_id": scope_id,
                "feedback": fb,
            }
            if slot.story_id:
                payload["story_id"] = slot.story_id
                payload["story"] = stories.get(slot.story_id, {"id": slot.story_id})
            key = idempotency_key(
                run_id=self.run.id,
                phase=self.spec.name,
                agent=slot.task.agent,
                agent_version=slot.task.agent_version,
                task_key=slot.key,
                input_hashes=[
                    *self._input_hashes(slot, records),
                    content_hash(self._extra.get(slot.key, {})),
                ],
                feedback=fb,
            )
            new.append(
                NewTask(
                    run_id=self.run.id,
                    phase=self.spec.name,
                    task_key=slot.key,
                    agent=slot.task.agent,
                    agent_version=slot.task.agent_version,
                    idempotency_key=key,
                    input=payload,
                    phase_attempt=attempt,
                    deadline=deadline,
                    max_deliveries=self.deps.catalogue.defaults.max_deliveries,
                )
            )
        await self.store.create_tasks(
            new,
            events=[
                Event(
                    ev.TASK_QUEUED,
                    {"task_key": t.task_key, "agent": t.agent, "attempt": attempt},
                    phase=self.spec.name,
                )
                for t in new
            ],
        )
        if self.deps.flush_outbox is not None:
            await self.deps.flush_outbox()
