"""Tasks: creation with outbox rows, the fenced lifecycle, stall and reconcile queries.

Lifecycle writes are one guarded ``UPDATE … WHERE status = ANY($expected) AND attempt =
$n`` — the check and the write are one atomic statement, so no row lock is held across
a round trip. When it matches nothing, :func:`diagnose` reads the row and raises the
precise error (NotFound, StaleAttempt, Conflict) the SQLite backend would have raised.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NoReturn

import asyncpg  # type: ignore[import-untyped]

from ideamine.enums import TASK_TRANSITIONS, TERMINAL_TASK_STATUSES, TaskStatus, can_transition
from ideamine.errors import Conflict, InvalidInput, NotFound
from ideamine.store._shared import (
    FAIL_STATUSES,
    NOTICES_TOPIC,
    TASKS_TOPIC,
    check_attempt,
    check_status,
    key_committed,
    task_message,
    to_record,
    utcnow,
)
from ideamine.store._task_batch import task_batch
from ideamine.store.postgres.db import Conn, StoreBase
from ideamine.store.postgres.events import append_events, insert_outbox
from ideamine.store.postgres.runs import require_id
from ideamine.store.records import JSON, Event, NewTask, TaskRecord

__all__ = ["TasksMixin", "diagnose", "sources"]

_T = TaskStatus
_OPEN = [s.value for s in TaskStatus if s not in TERMINAL_TASK_STATUSES]

_INSERT_TASKS = """
INSERT INTO tasks (id, run_id, phase, phase_attempt, task_key, agent, agent_version, idempotency_key, input,
                   status, attempt, deadline, max_deliveries, created_at, updated_at, finished_at)
SELECT u.id, u.run_id, u.phase, u.phase_attempt, u.task_key, u.agent, u.agent_version, u.key, u.input,
       CASE WHEN r.idempotency_key IS NULL THEN 'QUEUED' ELSE 'SUCCEEDED' END, 1, u.deadline, u.max_deliveries,
       $1, $1, CASE WHEN r.idempotency_key IS NULL THEN NULL ELSE $1::timestamptz END
FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::int[], $6::text[], $7::text[], $8::text[], $9::text[],
            $10::jsonb[], $11::timestamptz[], $12::int[])
     WITH ORDINALITY AS u(id, run_id, phase, phase_attempt, task_key, agent, agent_version, key, input, deadline,
                          max_deliveries, n)
LEFT JOIN task_results r ON r.idempotency_key = u.key AND r.idempotency_key = ANY($9::text[])  -- index condition
ORDER BY u.n
RETURNING *
"""


async def diagnose(
    conn: Conn,
    task_id: str,
    *,
    attempt: int,
    new: TaskStatus,
    expected: Sequence[TaskStatus],
    worker: str | None = None,
) -> NoReturn:
    """Explain why a guarded task update matched no row, by raising the precise error.

    If the row would pass the checks now, it changed between the update and this read:
    that is a Conflict too.
    """
    row = await conn.fetchrow("SELECT * FROM tasks WHERE id = $1", task_id)
    if row is None:
        raise NotFound(f"task {task_id} not found", task_id=task_id)
    task = to_record(TaskRecord, row)
    check_attempt(task, attempt, worker=worker)
    check_status(
        TASK_TRANSITIONS, task.status, new, expected, what="task", ident=task_id, allow_same=new in expected
    )
    raise Conflict(f"task {task_id} changed concurrently; retry", task_id=task_id)


#: the guard of a start that must not run a task whose key's effect exists
_UNLESS_COMMITTED = (
    " AND NOT EXISTS (SELECT 1 FROM task_results r WHERE r.idempotency_key = tasks.idempotency_key)"
)

#: whether a task's key has a committed result
_KEY_COMMITTED = (
    "SELECT EXISTS (SELECT 1 FROM tasks t JOIN task_results r ON r.idempotency_key = t.idempotency_key"
    " WHERE t.id = $1)"
)


def sources(new: TaskStatus, expected: Sequence[TaskStatus]) -> list[str]:
    """The expected statuses from which the table allows ``new`` (what the WHERE may match)."""
    return [s.value for s in expected if can_transition(TASK_TRANSITIONS, s, new)]


class TasksMixin(StoreBase):
    """Task rows and their guarded lifecycle; the outbox."""

    async def create_tasks(
        self, tasks: Sequence[NewTask], *, events: Sequence[Event] = ()
    ) -> list[TaskRecord]:
        """Insert QUEUED tasks with an outbox row each (one statement each); committed keys start SUCCEEDED.

        Tasks sharing an idempotency key become one row (returned at each of their
        positions); a batch may span runs, its events going to each run's chain.
        """
        batch = task_batch(tasks, events)
        for t in batch.tasks:
            require_id(t.run_id, "run")
        if not batch.tasks:
            return []
        now = utcnow()
        cols = (
            [str(t.id) for t in batch.tasks],
            [t.run_id for t in batch.tasks],
            [t.phase for t in batch.tasks],
            [t.phase_attempt for t in batch.tasks],
            [t.task_key for t in batch.tasks],
            [t.agent for t in batch.tasks],
            [t.agent_version for t in batch.tasks],
            [t.idempotency_key for t in batch.tasks],
            [t.input for t in batch.tasks],
            [t.deadline for t in batch.tasks],
            [t.max_deliveries for t in batch.tasks],
        )

        async def tx(conn: Conn) -> list[TaskRecord]:
            try:
                rows = await conn.fetch(_INSERT_TASKS, now, *cols)
            except asyncpg.ForeignKeyViolationError as exc:  # tasks.run_id, its one reference: checked here,
                runs = sorted({t.run_id for t in batch.tasks})  # not by a read before (a round trip less)
                raise NotFound(f"run of tasks not found: {', '.join(runs)}", run_ids=runs) from exc
            records = [to_record(TaskRecord, r) for r in rows]
            await insert_outbox(
                conn, [(TASKS_TOPIC, r.id, task_message(r)) for r in records if r.status == _T.QUEUED], now
            )
            for run_id, run_events in batch.events.items():
                await append_events(conn, run_id, run_events, now)
            return records

        by_id = {r.id: r for r in await self._db.transaction(tx)}
        rows = [by_id[ident] for ident in cols[0]]
        return [rows[slot] for slot in batch.slots]

    async def get_task(self, task_id: str) -> TaskRecord:
        """One task; NotFound when missing."""
        require_id(task_id, "task")
        row = await self._db.fetchrow("SELECT * FROM tasks WHERE id = $1", task_id)
        if row is None:
            raise NotFound(f"task {task_id} not found", task_id=task_id)
        return to_record(TaskRecord, row)

    async def get_tasks(self, task_ids: Sequence[str]) -> list[TaskRecord]:
        """The tasks among ``task_ids`` that exist, in the order asked, each once (one read)."""
        wanted = list(dict.fromkeys(task_ids))
        for task_id in wanted:
            require_id(task_id, "task")
        if not wanted:
            return []
        rows = await self._db.fetch("SELECT * FROM tasks WHERE id = ANY($1::uuid[])", wanted)
        found = {str(r["id"]): to_record(TaskRecord, r) for r in rows}
        return [found[i] for i in wanted if i in found]

    async def list_tasks(
        self, run_id: str, *, phase: str | None = None, statuses: Sequence[TaskStatus] = ()
    ) -> list[TaskRecord]:
        """Tasks of a run, oldest first."""
        require_id(run_id, "run")
        rows = await self._db.fetch(
            """SELECT * FROM tasks WHERE run_id = $1 AND ($2::text IS NULL OR phase = $2)
                 AND (cardinality($3::text[]) = 0 OR status = ANY($3)) ORDER BY created_at, id""",
            run_id,
            phase,
            [s.value for s in statuses],
        )
        return [to_record(TaskRecord, r) for r in rows]

    async def _guarded(
        self,
        task_id: str,
        *,
        attempt: int,
        new: TaskStatus,
        expected: Sequence[TaskStatus],
        assignments: str,
        params: Sequence[Any],
        worker: str | None = None,
        after: Any = None,
        unless_committed: bool = False,
    ) -> TaskRecord:
        """Run ``UPDATE tasks SET <assignments> WHERE id AND status AND attempt [AND worker]``.

        ``params`` fill ``$5…`` of ``assignments``; ``after(conn, record)`` runs in the same
        transaction when the update matched (ledger events, outbox rows).
        ``unless_committed``: also refuse (Conflict) when the task's key has a result.
        """
        require_id(task_id, "task")
        sql = (
            f"UPDATE tasks SET {assignments} WHERE id = $1 AND status = ANY($2::text[]) AND attempt = $3"
            " AND ($4::text IS NULL OR worker = $4)"
            + (_UNLESS_COMMITTED if unless_committed else "")
            + " RETURNING *"
        )
        allowed = sources(new, expected) if new not in expected else [s.value for s in expected]

        async def tx(conn: Conn) -> TaskRecord:
            row = await conn.fetchrow(sql, task_id, allowed, attempt, worker, *params)
            if row is None:
                if unless_committed and await conn.fetchval(_KEY_COMMITTED, task_id):
                    raise key_committed(task_id)
                await diagnose(conn, task_id, attempt=attempt, new=new, expected=expected, worker=worker)
            record = to_record(TaskRecord, row)
            if after is not None:
                await after(conn, record)
            return record

        return await self._db.transaction(tx)

    async def start_task(
        self, task_id: str, *, attempt: int, worker: str, lease_seconds: float
    ) -> TaskRecord:
        """QUEUED → RUNNING for the current attempt; the worker now holds a lease."""
        return await self._start(task_id, attempt=attempt, worker=worker, lease_seconds=lease_seconds)

    async def _start(
        self,
        task_id: str,
        *,
        attempt: int,
        worker: str,
        lease_seconds: float,
        events: Sequence[Event] = (),
        unless_committed: bool = False,
    ) -> TaskRecord:
        """The guarded start of one task, with its ledger events in the same transaction."""
        now = utcnow()

        async def after(conn: Conn, task: TaskRecord) -> None:
            await append_events(conn, task.run_id, events, now)  # none: no round trip

        return await self._guarded(
            task_id,
            attempt=attempt,
            new=_T.RUNNING,
            expected=(_T.QUEUED,),
            assignments="status = 'RUNNING', worker = $5, lease_expires_at = $6, started_at = $7, updated_at = $7",
            params=(worker, now + timedelta(seconds=lease_seconds), now),
            after=after,
            unless_committed=unless_committed,
        )

    async def heartbeat_task(
        self, task_id: str, *, attempt: int, worker: str, lease_seconds: float
    ) -> TaskRecord:
        """Extend the lease of the RUNNING attempt this worker holds."""
        now = utcnow()
        return await self._guarded(
            task_id,
            attempt=attempt,
            new=_T.RUNNING,
            expected=(_T.RUNNING,),
            worker=worker,
            assignments="lease_expires_at = $5, updated_at = $6",
            params=(now + timedelta(seconds=lease_seconds), now),
        )

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
        now = utcnow()

        async def after(conn: Conn, task: TaskRecord) -> None:
            await append_events(conn, task.run_id, events, now)
            if notice is not None:
                await insert_outbox(conn, [(NOTICES_TOPIC, task_id, notice)], now)

        return await self._guarded(
            task_id,
            attempt=attempt,
            new=status,
            expected=(_T.RUNNING, _T.QUEUED),
            assignments="status = $5, error = $6, lease_expires_at = NULL, finished_at = $7, updated_at = $7",
            params=(status.value, error, now),
            after=after,
        )

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
        now = utcnow()

        async def after(conn: Conn, task: TaskRecord) -> None:
            await insert_outbox(conn, [(TASKS_TOPIC, task_id, task_message(task))], now)
            await append_events(conn, task.run_id, events, now)

        return await self._guarded(
            task_id,
            attempt=attempt,
            new=_T.QUEUED,
            expected=(_T.RUNNING, _T.FAILED),
            assignments="status = 'QUEUED', attempt = attempt + 1, worker = NULL, lease_expires_at = NULL,"
            " error = $5, finished_at = NULL, updated_at = $6, input = input || $7::jsonb",
            params=(reason, now, input_patch or {}),
            after=after,
        )

    async def cancel_tasks(self, run_id: str, *, events: Sequence[Event] = ()) -> int:
        """Cancel every PENDING, QUEUED or RUNNING task of the run; returns how many."""
        require_id(run_id, "run")
        now = utcnow()

        async def tx(conn: Conn) -> int:
            if await conn.fetchval("SELECT 1 FROM runs WHERE id = $1", run_id) is None:
                raise NotFound(f"run {run_id} not found", run_id=run_id)
            status = await conn.execute(
                """UPDATE tasks SET status = 'CANCELLED', lease_expires_at = NULL, finished_at = $2, updated_at = $2
                   WHERE run_id = $1 AND status = ANY($3::text[])""",
                run_id,
                now,
                _OPEN,
            )
            await append_events(conn, run_id, events, now)
            return int(status.split()[-1])

        return await self._db.transaction(tx)

    async def expired_leases(self, *, now: datetime | None = None, limit: int = 100) -> list[TaskRecord]:
        """RUNNING tasks whose lease ran out, longest-expired first."""
        rows = await self._db.fetch(
            """SELECT * FROM tasks WHERE status = 'RUNNING' AND lease_expires_at < $1
               ORDER BY lease_expires_at, id LIMIT $2""",
            now or utcnow(),
            limit,
        )
        return [to_record(TaskRecord, r) for r in rows]

    async def unfinished_tasks(self, *, limit: int = 10_000) -> list[TaskRecord]:
        """QUEUED and RUNNING tasks, oldest first (the reconciler's worklist)."""
        rows = await self._db.fetch(
            "SELECT * FROM tasks WHERE status IN ('QUEUED', 'RUNNING') ORDER BY created_at, id LIMIT $1",
            limit,
        )
        return [to_record(TaskRecord, r) for r in rows]
