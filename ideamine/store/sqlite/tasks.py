"""Tasks: creation with outbox rows, the fenced lifecycle, stall and reconcile queries (SQLite).

Every lifecycle write reads the task, checks its attempt (the fence) and the
transition table, then writes — inside one ``BEGIN IMMEDIATE`` transaction, which is
what makes the check and the write one atomic step.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from ideamine.enums import TASK_TRANSITIONS, TERMINAL_TASK_STATUSES, TaskStatus
from ideamine.errors import InvalidInput
from ideamine.store._shared import (
    FAIL_STATUSES,
    NOTICES_TOPIC,
    TASKS_TOPIC,
    check_attempt,
    check_status,
    task_message,
    to_iso,
    to_record,
    utcnow,
)
from ideamine.store._task_batch import task_batch
from ideamine.store.base import OUTBOX_CLAIM_SECONDS
from ideamine.store.records import JSON, Event, NewTask, OutboxRecord, TaskRecord
from ideamine.store.sqlite._base import SqliteBase, Tx, marks, where

__all__ = ["TasksMixin", "load_task"]

_T = TaskStatus
_OPEN = [s for s in TaskStatus if s not in TERMINAL_TASK_STATUSES]


async def load_task(tx: Tx, task_id: str) -> TaskRecord:
    """The task row as a record; NotFound when missing."""
    return to_record(TaskRecord, await tx.get("tasks", task_id, what="task"))


class TasksMixin(SqliteBase):
    """Task rows and their guarded lifecycle; the outbox."""

    async def create_tasks(
        self, tasks: Sequence[NewTask], *, events: Sequence[Event] = ()
    ) -> list[TaskRecord]:
        """Insert QUEUED tasks with an outbox row each; already-committed keys start SUCCEEDED.

        Tasks sharing an idempotency key become one row (returned at each of their
        positions); a batch may span runs, its events going to each run's chain.
        """
        batch = task_batch(tasks, events)
        created: list[TaskRecord] = []
        async with self._tx() as tx:
            for run in sorted({t.run_id for t in batch.tasks}):
                await tx.get("runs", run, what="run")
            for new in batch.tasks:
                task_id = str(new.id)
                done = await tx.one(
                    "SELECT 1 FROM task_results WHERE idempotency_key = ?", (new.idempotency_key,)
                )
                await tx.insert(
                    "tasks",
                    {
                        "id": task_id,
                        "run_id": new.run_id,
                        "phase": new.phase,
                        "phase_attempt": new.phase_attempt,
                        "task_key": new.task_key,
                        "agent": new.agent,
                        "agent_version": new.agent_version,
                        "idempotency_key": new.idempotency_key,
                        "input": new.input,
                        "status": _T.SUCCEEDED if done else _T.QUEUED,
                        "attempt": 1,
                        "deadline": new.deadline,
                        "max_deliveries": new.max_deliveries,
                        "created_at": tx.now,
                        "updated_at": tx.now,
                        "finished_at": tx.now if done else None,
                    },
                )
                task = await load_task(tx, task_id)
                if not done:
                    await tx.outbox(TASKS_TOPIC, task.id, task_message(task))
                created.append(task)
            for run_id, run_events in batch.events.items():
                await tx.append_events(run_id, run_events)
        return [created[slot] for slot in batch.slots]

    async def get_task(self, task_id: str) -> TaskRecord:
        """One task; NotFound when missing."""
        async with self._tx(write=False) as tx:
            return await load_task(tx, task_id)

    async def get_tasks(self, task_ids: Sequence[str]) -> list[TaskRecord]:
        """The tasks among ``task_ids`` that exist, in the order asked, each once (one read)."""
        wanted = list(dict.fromkeys(task_ids))
        if not wanted:
            return []
        cond, params = where({"id": wanted})
        async with self._tx(write=False) as tx:
            rows = await tx.all(f"SELECT * FROM tasks WHERE {cond}", params)
        found = {str(r["id"]): to_record(TaskRecord, r) for r in rows}
        return [found[i] for i in wanted if i in found]

    async def list_tasks(
        self, run_id: str, *, phase: str | None = None, statuses: Sequence[TaskStatus] = ()
    ) -> list[TaskRecord]:
        """Tasks of a run, oldest first."""
        cond, params = where({"run_id": run_id, "phase": phase, "status": list(statuses)})
        async with self._tx(write=False) as tx:
            rows = await tx.all(f"SELECT * FROM tasks WHERE {cond} ORDER BY created_at, id", params)
        return [to_record(TaskRecord, r) for r in rows]

    async def start_task(
        self, task_id: str, *, attempt: int, worker: str, lease_seconds: float
    ) -> TaskRecord:
        """QUEUED → RUNNING for the current attempt; the worker now holds a lease."""
        async with self._tx() as tx:
            task = await load_task(tx, task_id)
            check_attempt(task, attempt)
            check_status(TASK_TRANSITIONS, task.status, _T.RUNNING, (_T.QUEUED,), what="task", ident=task_id)
            values = {
                "status": _T.RUNNING,
                "worker": worker,
                "lease_expires_at": tx.now + timedelta(seconds=lease_seconds),
                "started_at": tx.now,
                "updated_at": tx.now,
            }
            return await _write(tx, task_id, values)

    async def heartbeat_task(
        self, task_id: str, *, attempt: int, worker: str, lease_seconds: float
    ) -> TaskRecord:
        """Extend the lease of the RUNNING attempt this worker holds."""
        async with self._tx() as tx:
            task = await load_task(tx, task_id)
            check_attempt(task, attempt, worker=worker)
            check_status(
                TASK_TRANSITIONS,
                task.status,
                _T.RUNNING,
                (_T.RUNNING,),
                what="task",
                ident=task_id,
                allow_same=True,
            )
            values = {"lease_expires_at": tx.now + timedelta(seconds=lease_seconds), "updated_at": tx.now}
            return await _write(tx, task_id, values)

    async def fail_task(
        self,
        task_id: str,
        *,
        attempt: int,
        error: str,
        status: TaskStatus = TaskStatus.FAILED,
        events: Sequence[Event] = (),
        notice: JSON | None = None,
    ) -> TaskRecord:
        """End the current attempt as FAILED, DEAD or CANCELLED, with events and a notice."""
        if status not in FAIL_STATUSES:
            raise InvalidInput(f"fail_task cannot set {status.name}", field="status")
        async with self._tx() as tx:
            task = await load_task(tx, task_id)
            check_attempt(task, attempt)
            check_status(
                TASK_TRANSITIONS, task.status, status, (_T.RUNNING, _T.QUEUED), what="task", ident=task_id
            )
            values = {
                "status": status,
                "error": error,
                "lease_expires_at": None,
                "finished_at": tx.now,
                "updated_at": tx.now,
            }
            record = await _write(tx, task_id, values)
            await tx.append_events(task.run_id, events)
            if notice is not None:
                await tx.outbox(NOTICES_TOPIC, task_id, notice)
            return record

    async def requeue_task(
        self,
        task_id: str,
        *,
        attempt: int,
        reason: str,
        events: Sequence[Event] = (),
        input_patch: JSON | None = None,
    ) -> TaskRecord:
        """Re-queue as ``attempt + 1`` (fencing off the old attempt) with a new outbox row."""
        async with self._tx() as tx:
            task = await load_task(tx, task_id)
            check_attempt(task, attempt)
            check_status(
                TASK_TRANSITIONS, task.status, _T.QUEUED, (_T.RUNNING, _T.FAILED), what="task", ident=task_id
            )
            values: dict[str, Any] = {
                "status": _T.QUEUED,
                "attempt": attempt + 1,
                "worker": None,
                "lease_expires_at": None,
                "error": reason,
                "finished_at": None,
                "updated_at": tx.now,
            }
            if input_patch:
                values["input"] = {**task.input, **input_patch}
            record = await _write(tx, task_id, values)
            await tx.outbox(TASKS_TOPIC, task_id, task_message(record))
            await tx.append_events(task.run_id, events)
            return record

    async def cancel_tasks(self, run_id: str, *, events: Sequence[Event] = ()) -> int:
        """Cancel every PENDING, QUEUED or RUNNING task of the run; returns how many."""
        async with self._tx() as tx:
            await tx.get("runs", run_id, what="run")
            count = await tx.update(
                "tasks",
                {
                    "status": _T.CANCELLED,
                    "lease_expires_at": None,
                    "finished_at": tx.now,
                    "updated_at": tx.now,
                },
                f"run_id = ? AND status IN ({marks(_OPEN)})",
                (run_id, *_OPEN),
            )
            await tx.append_events(run_id, events)
        return count

    async def expired_leases(self, *, now: datetime | None = None, limit: int = 100) -> list[TaskRecord]:
        """RUNNING tasks whose lease ran out, longest-expired first."""
        async with self._tx(write=False) as tx:
            rows = await tx.all(
                "SELECT * FROM tasks WHERE status = ? AND lease_expires_at < ? ORDER BY lease_expires_at, id LIMIT ?",
                (_T.RUNNING, now or utcnow(), limit),
            )
        return [to_record(TaskRecord, r) for r in rows]

    async def unfinished_tasks(self, *, limit: int = 10_000) -> list[TaskRecord]:
        """QUEUED and RUNNING tasks, oldest first (the reconciler's worklist)."""
        async with self._tx(write=False) as tx:
            rows = await tx.all(
                "SELECT * FROM tasks WHERE status IN (?, ?) ORDER BY created_at, id LIMIT ?",
                (_T.QUEUED, _T.RUNNING, limit),
            )
        return [to_record(TaskRecord, r) for r in rows]

    # ------------------------------------------------------------------- outbox
    async def fetch_outbox(self, *, topic: str | None = None, limit: int = 500) -> list[OutboxRecord]:
        """Unpublished outbox rows, oldest first, claimed or not."""
        cond, params = where({"topic": topic}, "published_at IS NULL")
        async with self._tx(write=False) as tx:
            rows = await tx.all(f"SELECT * FROM outbox WHERE {cond} ORDER BY id LIMIT ?", [*params, limit])
        return [to_record(OutboxRecord, r) for r in rows]

    async def claim_outbox(
        self,
        owner: str,
        *,
        topic: str | None = None,
        limit: int = 500,
        claim_seconds: float = OUTBOX_CLAIM_SECONDS,
        now: datetime | None = None,
    ) -> list[OutboxRecord]:
        """Pick and claim in one immediate transaction: SQLite's one writer is the lock."""
        async with self._tx() as tx:
            at = now or tx.now
            cond, params = where(
                {"topic": topic}, "published_at IS NULL", "(claimed_until IS NULL OR claimed_until <= ?)"
            )
            rows = await tx.all(
                f"SELECT * FROM outbox WHERE {cond} ORDER BY id LIMIT ?", [at, *params, limit]
            )
            if not rows:
                return []
            until = at + timedelta(seconds=claim_seconds)
            ids = [r["id"] for r in rows]
            await tx.update(
                "outbox", {"claimed_by": owner, "claimed_until": until}, f"id IN ({marks(ids)})", ids
            )
        return [
            to_record(OutboxRecord, {**r, "claimed_by": owner, "claimed_until": to_iso(until)}) for r in rows
        ]

    async def mark_published(self, outbox_ids: Sequence[int]) -> None:
        """Flag rows published (kept for audit; neither fetched nor claimed again)."""
        if not outbox_ids:
            return
        async with self._tx() as tx:
            await tx.update(
                "outbox",
                {"published_at": tx.now},
                f"id IN ({marks(outbox_ids)}) AND published_at IS NULL",
                outbox_ids,
            )

    async def release_outbox(self, outbox_ids: Sequence[int], *, owner: str) -> int:
        """Clear ``owner``'s claims on the unpublished rows among ``outbox_ids``."""
        if not outbox_ids:
            return 0
        async with self._tx() as tx:
            return await tx.update(
                "outbox",
                {"claimed_by": None, "claimed_until": None},
                f"id IN ({marks(outbox_ids)}) AND claimed_by = ? AND published_at IS NULL",
                [*outbox_ids, owner],
            )


async def _write(tx: Tx, task_id: str, values: dict[str, Any]) -> TaskRecord:
    """Apply ``values`` to the task and return the stored result."""
    await tx.update("tasks", values, "id = ?", (task_id,))
    return await load_task(tx, task_id)
