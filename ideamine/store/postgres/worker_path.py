"""The agent host's per-task path in as few round trips as the work allows.

A no-op task used to cost eight durable round trips (load task, look up its key, start,
append ``task.started``, read the run, read *every* artifact of the run, read the
questions, commit) — and the artifact read grew with the run, so a 10,000-task fan-out
in one run was quadratic. Here each step is one statement: the task joined to its key's
result, start + its ledger events in one transaction (one synchronous commit instead of
two), and the task's inputs (idea, the requested artifacts, answered questions) as one
row of JSON aggregates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ideamine.batching import Grouped
from ideamine.enums import TaskStatus
from ideamine.errors import Conflict, NotFound
from ideamine.ids import is_id
from ideamine.store._shared import NOTICES_TOPIC, to_record, utcnow
from ideamine.store.base import TaskInputs
from ideamine.store.postgres.db import Conn
from ideamine.store.postgres.events import append_events, chain_runs, insert_chains, insert_outbox
from ideamine.store.postgres.runs import require_id
from ideamine.store.postgres.tasks import TasksMixin
from ideamine.store.records import JSON, ArtifactRecord, Event, QuestionRecord, TaskRecord, TaskResultRecord

__all__ = ["WorkerPathMixin"]

_T = TaskStatus

#: start the tasks (QUEUED -> RUNNING fenced by attempt, unless their key's result is
#: committed) and advance their runs' ledger heads by their events, returning the seqs and
#: previous hash to chain from — one statement
_START_AND_CLAIM = """
WITH u AS (
    SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::timestamptz[], $5::int[])
        WITH ORDINALITY AS u(id, attempt, worker, lease, events, n)
), t AS (
    UPDATE tasks SET status = 'RUNNING', worker = u.worker, lease_expires_at = u.lease, started_at = $6,
                     updated_at = $6
    FROM u
    WHERE tasks.id = ANY($1::uuid[])  -- an index condition even under a generic plan
      AND tasks.id = u.id AND tasks.status = 'QUEUED' AND tasks.attempt = u.attempt
      AND NOT EXISTS (SELECT 1 FROM task_results r WHERE r.idempotency_key = tasks.idempotency_key)
    RETURNING tasks.*, u.events AS n_events, u.n
), h AS (
    UPDATE ledger_heads SET last_seq = last_seq + c.events
    FROM (SELECT run_id, sum(n_events)::bigint AS events FROM t GROUP BY run_id HAVING sum(n_events) > 0) c
    WHERE ledger_heads.run_id = ANY(ARRAY(SELECT run_id FROM t)) AND ledger_heads.run_id = c.run_id
    RETURNING ledger_heads.run_id, last_seq - c.events AS start, last_hash
)
SELECT t.*, h.start, h.last_hash FROM t LEFT JOIN h ON h.run_id = t.run_id ORDER BY t.n
"""

#: tasks, each joined to its idempotency key's committed result, by position
_TASKS_WITH_RESULTS = """
SELECT u.n, t.*, to_jsonb(r) AS result
FROM unnest($1::uuid[]) WITH ORDINALITY AS u(id, n)
JOIN tasks t ON t.id = u.id AND t.id = ANY($1::uuid[])
LEFT JOIN task_results r ON r.idempotency_key = t.idempotency_key
"""

#: per member (run $1[n], wanted types $2[n-1], named artifact ids $3[n-1]; the lists are
#: JSON arrays of arrays, as SQL arrays must be rectangular): the run's idea, the latest version
#: per (type, key) of the wanted types, the artifacts named by id, and the answered questions.
#: Both artifact reads are driven by the wanted list — a range per type on
#: artifacts_version_unique (run_id, type, key, version), a primary-key probe per id:
#: filtering the run's artifacts instead (what the planner chose for ``= ANY(...)``) read
#: every artifact of the run per task, so a run fanned out to many tasks made each task's
#: read grow with the tasks before it.
_TASKS_INPUTS = """
SELECT u.n, r.idea,
       (SELECT coalesce(jsonb_agg(to_jsonb(a) ORDER BY a.created_at, a.id), '[]'::jsonb)
          FROM unnest(w.types) AS wt(type)
          CROSS JOIN LATERAL (SELECT DISTINCT ON (b.key) b.* FROM artifacts b
                               WHERE b.run_id = r.id AND b.type = wt.type
                               ORDER BY b.key, b.version DESC) a) AS latest,
       (SELECT coalesce(jsonb_agg(to_jsonb(a) ORDER BY a.created_at, a.id), '[]'::jsonb)
          FROM unnest(w.ids) AS wi(id) JOIN artifacts a ON a.id = wi.id WHERE a.run_id = r.id) AS named,
       (SELECT coalesce(jsonb_agg(to_jsonb(q) ORDER BY q.created_at, q.id), '[]'::jsonb)
          FROM questions q WHERE q.run_id = r.id AND q.answer IS NOT NULL) AS questions
FROM unnest($1::uuid[]) WITH ORDINALITY AS u(run_id, n)
CROSS JOIN LATERAL (
    SELECT ARRAY(SELECT jsonb_array_elements_text($2::jsonb -> (u.n::int - 1))) AS types,
           ARRAY(SELECT jsonb_array_elements_text($3::jsonb -> (u.n::int - 1))::uuid) AS ids
) w
JOIN runs r ON r.id = u.run_id AND r.id = ANY($1::uuid[])
"""


class _Unmatched(Exception):
    """Some start of a batch did not match its fence (the transaction is rolled back)."""


@dataclass(frozen=True)
class _InputsWanted:
    run_id: str
    types: tuple[str, ...]
    artifact_ids: tuple[str, ...]


@dataclass(frozen=True)
class Start:
    """One ``start_task_with_events`` call, as :class:`Grouped` batches them."""

    task_id: str
    attempt: int
    worker: str
    lease_seconds: float
    events: Sequence[Event]


class WorkerPathMixin(TasksMixin):
    """Reads and writes shaped for one agent task, each a single round trip."""

    #: concurrent calls of the per-task path, each kind served in batches (set up by the store)
    _starts: Grouped[Start, TaskRecord]
    _task_reads: Grouped[str, tuple[TaskRecord, TaskResultRecord | None] | None]
    _input_reads: Grouped[_InputsWanted, TaskInputs | None]

    async def get_task_with_result(self, task_id: str) -> tuple[TaskRecord, TaskResultRecord | None]:
        """A task and the committed result of its idempotency key, in one statement.

        Concurrent calls (a host's slots all taking deliveries) share that statement.
        """
        require_id(task_id, "task")
        found = await self._task_reads(task_id)
        if found is None:
            raise NotFound(f"task {task_id} not found", task_id=task_id)
        return found

    async def _tasks_with_results(
        self, task_ids: Sequence[str]
    ) -> list[tuple[TaskRecord, TaskResultRecord | None] | None]:
        rows = {r["n"]: r for r in await self._db.fetch(_TASKS_WITH_RESULTS, list(task_ids))}
        out: list[tuple[TaskRecord, TaskResultRecord | None] | None] = []
        for n in range(1, len(task_ids) + 1):
            row = rows.get(n)
            if row is None:
                out.append(None)
                continue
            result = row["result"]
            out.append(
                (to_record(TaskRecord, row), None if result is None else to_record(TaskResultRecord, result))
            )
        return out

    async def start_task_with_events(
        self, task_id: str, *, attempt: int, worker: str, lease_seconds: float, events: Sequence[Event] = ()
    ) -> TaskRecord:
        """QUEUED → RUNNING (fenced) and the events, committed together.

        Starts arriving together (a host's slots taking a batch of deliveries) share one
        transaction — one hold of each run's ledger head instead of one per task, which
        is what serialised a busy run's starts. A refusal is answered per call.
        """
        require_id(task_id, "task")
        return await self._starts(Start(task_id, attempt, worker, lease_seconds, tuple(events)))

    async def start_tasks(self, starts: Sequence[Start]) -> list[TaskRecord]:
        """Start several tasks in one transaction (all or nothing), in input order.

        A lone start takes the same single statement; only when it does not match is it
        run again through the guarded start, which says why (or starts it, if the row
        changed in between).

        Raises:
            Conflict: some start of several did not match its fence (nothing was
                written); start them one by one to learn which and why.
        """
        try:
            return await self._start_batch(starts)
        except _Unmatched:
            if len(starts) > 1:
                raise Conflict(f"some of {len(starts)} starts did not match their fence") from None
            return [await self._start_one(starts[0])]

    async def _start_batch(self, starts: Sequence[Start]) -> list[TaskRecord]:
        now = utcnow()
        params = (
            [s.task_id for s in starts],
            [s.attempt for s in starts],
            [s.worker for s in starts],
            [now + timedelta(seconds=s.lease_seconds) for s in starts],
            [len(s.events) for s in starts],
            now,
        )

        async def tx(conn: Conn) -> list[TaskRecord]:
            rows = await conn.fetch(_START_AND_CLAIM, *params)
            if len(rows) != len(starts):  # rolled back: which one and why is for a call of its own
                raise _Unmatched
            records, heads = chain_runs(
                [
                    (r["run_id"], r["start"], r["last_hash"], s.events)
                    for r, s in zip(rows, starts, strict=True)
                ],
                now,
            )
            await insert_chains(conn, records, heads, now)
            return [to_record(TaskRecord, r) for r in rows]

        return await self._db.transaction(tx)

    async def _start_one(self, start: Start) -> TaskRecord:
        return await self._start(
            start.task_id,
            attempt=start.attempt,
            worker=start.worker,
            lease_seconds=start.lease_seconds,
            events=start.events,
            unless_committed=True,
        )

    async def read_task_inputs(
        self, run_id: str, *, types: Sequence[str], artifact_ids: Sequence[str] = ()
    ) -> TaskInputs:
        """The run's idea, the wanted artifacts and the answered questions, in one statement.

        Concurrent calls share that statement (one row per call).
        """
        require_id(run_id, "run")
        ids = sorted({i for i in artifact_ids if isinstance(i, str) and is_id(i)})
        found = await self._input_reads(_InputsWanted(run_id, tuple(sorted(set(types))), tuple(ids)))
        if found is None:
            raise NotFound(f"run {run_id} not found", run_id=run_id)
        return found

    async def _tasks_inputs(self, wanted: Sequence[_InputsWanted]) -> list[TaskInputs | None]:
        """One statement for a batch; members wanting the same inputs share one row.

        The tasks of one fan-out usually read the same run and types, so a batch of 32
        slots often names a handful of distinct inputs: each is read, sent and decoded
        once, and its members get the same (read-only) records.
        """
        distinct = list(dict.fromkeys(wanted))
        rows = {
            r["n"]: r
            for r in await self._db.fetch(
                _TASKS_INPUTS,
                [w.run_id for w in distinct],
                [list(w.types) for w in distinct],
                [list(w.artifact_ids) for w in distinct],
            )
        }
        found = {
            w: None
            if (row := rows.get(n)) is None
            else TaskInputs(
                idea=row["idea"],
                artifacts=_merged(row["latest"], row["named"]),
                questions=[to_record(QuestionRecord, q) for q in row["questions"]],
            )
            for n, w in enumerate(distinct, start=1)
        }
        return [found[w] for w in wanted]

    async def succeed_from_result(
        self,
        task_id: str,
        *,
        attempt: int,
        events: Sequence[Event] = (),
        notice: JSON | None = None,
    ) -> TaskRecord:
        """Mark SUCCEEDED a task whose key's effect is already committed (fenced by attempt)."""
        now = utcnow()

        async def after(conn: Conn, task: TaskRecord) -> None:
            if await conn.fetchval(_HAS_RESULT, task.idempotency_key) is None:
                raise Conflict(
                    f"task {task_id} has no committed result for its idempotency key", task_id=task_id
                )
            await append_events(conn, task.run_id, events, now)
            if notice is not None:
                await insert_outbox(conn, [(NOTICES_TOPIC, task_id, notice)], now)

        return await self._guarded(
            task_id,
            attempt=attempt,
            new=_T.SUCCEEDED,
            expected=(_T.RUNNING, _T.QUEUED),
            assignments="status = 'SUCCEEDED', lease_expires_at = NULL, finished_at = $5, updated_at = $5",
            params=(now,),
            after=after,
        )


_HAS_RESULT = "SELECT 1 FROM task_results WHERE idempotency_key = $1"


def _merged(latest: list[dict[str, Any]], named: list[dict[str, Any]]) -> list[ArtifactRecord]:
    """Both artifact lists as records, each artifact once, in creation order."""
    seen: dict[str, ArtifactRecord] = {}
    for a in [*latest, *named]:
        seen.setdefault(str(a["id"]), to_record(ArtifactRecord, a))
    return sorted(seen.values(), key=lambda r: (r.created_at, r.id))
