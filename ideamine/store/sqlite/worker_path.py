"""The agent host's per-task path (SQLite): each step one transaction.

Start + its ledger events share one ``BEGIN IMMEDIATE`` (one ``synchronous=FULL`` commit
instead of two), and a task's inputs are read with the wanted artifact types and ids in
the WHERE clause — never every artifact of the run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import timedelta

from ideamine.enums import TASK_TRANSITIONS, TaskStatus
from ideamine.errors import Conflict
from ideamine.ids import is_id
from ideamine.store._shared import NOTICES_TOPIC, check_attempt, check_status, key_committed, to_record
from ideamine.store.base import TaskInputs
from ideamine.store.records import JSON, ArtifactRecord, Event, QuestionRecord, TaskRecord, TaskResultRecord
from ideamine.store.sqlite._base import SqliteBase, Tx, marks
from ideamine.store.sqlite.tasks import load_task

__all__ = ["WorkerPathMixin"]

_T = TaskStatus


class WorkerPathMixin(SqliteBase):
    """Reads and writes shaped for one agent task."""

    async def get_task_with_result(self, task_id: str) -> tuple[TaskRecord, TaskResultRecord | None]:
        """A task and the committed result of its idempotency key, in one transaction."""
        async with self._tx(write=False) as tx:
            task = await load_task(tx, task_id)
            row = await tx.one(
                "SELECT * FROM task_results WHERE idempotency_key = ?", (task.idempotency_key,)
            )
        return task, None if row is None else to_record(TaskResultRecord, row)

    async def start_task_with_events(
        self, task_id: str, *, attempt: int, worker: str, lease_seconds: float, events: Sequence[Event] = ()
    ) -> TaskRecord:
        """QUEUED → RUNNING (fenced) and the events, committed together; Conflict when the key's effect exists."""
        async with self._tx() as tx:
            task = await _fenced(tx, task_id, attempt, _T.RUNNING, (_T.QUEUED,))
            if await tx.one("SELECT 1 FROM task_results WHERE idempotency_key = ?", (task.idempotency_key,)):
                raise key_committed(task_id)
            values = {
                "status": _T.RUNNING,
                "worker": worker,
                "lease_expires_at": tx.now + timedelta(seconds=lease_seconds),
                "started_at": tx.now,
                "updated_at": tx.now,
            }
            return await _write(tx, task_id, values, events)

    async def read_task_inputs(
        self, run_id: str, *, types: Sequence[str], artifact_ids: Sequence[str] = ()
    ) -> TaskInputs:
        """The run's idea, the wanted artifacts and the answered questions."""
        wanted = sorted(set(types))
        ids = sorted({i for i in artifact_ids if isinstance(i, str) and is_id(i)})
        async with self._tx(write=False) as tx:
            run = await tx.get("runs", run_id, what="run")
            rows = await tx.all(
                f"""SELECT a.* FROM artifacts a
                    WHERE a.run_id = ? AND (
                      (a.type IN ({marks(wanted)}) AND a.version = (
                         SELECT MAX(b.version) FROM artifacts b
                         WHERE b.run_id = a.run_id AND b.type = a.type AND b.key = a.key))
                      OR a.id IN ({marks(ids)}))
                    ORDER BY a.created_at, a.id""",
                [run_id, *wanted, *ids],
            )
            questions = await tx.all(
                "SELECT * FROM questions WHERE run_id = ? AND answer IS NOT NULL ORDER BY created_at, id",
                (run_id,),
            )
        return TaskInputs(
            idea=json.loads(run["idea"]) if isinstance(run["idea"], str) else run["idea"],
            artifacts=[to_record(ArtifactRecord, r) for r in rows],
            questions=[to_record(QuestionRecord, q) for q in questions],
        )

    async def succeed_from_result(
        self,
        task_id: str,
        *,
        attempt: int,
        events: Sequence[Event] = (),
        notice: JSON | None = None,
    ) -> TaskRecord:
        """Mark SUCCEEDED a task whose key's effect is already committed (fenced by attempt)."""
        async with self._tx() as tx:
            task = await _fenced(tx, task_id, attempt, _T.SUCCEEDED, (_T.RUNNING, _T.QUEUED))
            done = await tx.one(
                "SELECT 1 FROM task_results WHERE idempotency_key = ?", (task.idempotency_key,)
            )
            if done is None:
                raise Conflict(
                    f"task {task_id} has no committed result for its idempotency key", task_id=task_id
                )
            values = {
                "status": _T.SUCCEEDED,
                "lease_expires_at": None,
                "finished_at": tx.now,
                "updated_at": tx.now,
            }
            record = await _write(tx, task_id, values, events)
            if notice is not None:
                await tx.outbox(NOTICES_TOPIC, task_id, notice)
            return record


async def _fenced(
    tx: Tx, task_id: str, attempt: int, new: TaskStatus, expected: Sequence[TaskStatus]
) -> TaskRecord:
    """The task, after checking the attempt fence and that ``expected`` → ``new`` is allowed."""
    task = await load_task(tx, task_id)
    check_attempt(task, attempt)
    check_status(TASK_TRANSITIONS, task.status, new, expected, what="task", ident=task_id)
    return task


async def _write(tx: Tx, task_id: str, values: Mapping[str, object], events: Sequence[Event]) -> TaskRecord:
    """Apply ``values`` to the task, append its events, return the stored row."""
    await tx.update("tasks", values, "id = ?", (task_id,))
    task = await load_task(tx, task_id)
    await tx.append_events(task.run_id, events)
    return task
