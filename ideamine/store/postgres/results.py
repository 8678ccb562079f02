"""Task results and artifacts: the exactly-once completion and its reads.

``commit_task_result`` is the hot path of the whole system (every agent task ends in
one), so it is built to cost few round trips whatever the number of artifacts:

1. one statement fences the task (guarded ``UPDATE``) *and* inserts the result under
   its idempotency key (``ON CONFLICT DO NOTHING``), in data-modifying CTEs;
2. one statement inserts all artifacts, numbering versions per (run, type, key) — a
   concurrent writer of the same version loses on ``artifacts_version_unique`` and the
   transaction is re-run by :class:`~ideamine.store.postgres.db.Database`;
3. the ledger append (two statements) and the outbox notice (one).

:meth:`ResultsMixin.commit_task_results` commits many completions in one transaction
with the same statements (see its docstring); it is this backend's batching extension.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ideamine.canonical import content_hash
from ideamine.enums import TaskStatus
from ideamine.errors import NotFound
from ideamine.ids import new_id
from ideamine.store._shared import NOTICES_TOPIC, artifact_key, to_record, utcnow
from ideamine.store.postgres.db import Conn, StoreBase
from ideamine.store.postgres.events import OutboxRow, append_events, insert_outbox
from ideamine.store.postgres.runs import require_id
from ideamine.store.postgres.tasks import diagnose
from ideamine.store.records import JSON, ArtifactRecord, Event, NewArtifact, TaskRecord, TaskResultRecord

__all__ = ["ResultsMixin", "Completion"]

_T = TaskStatus

#: fence the task and claim the idempotency key in one statement
_FENCE_AND_CLAIM = """
WITH t AS (
    UPDATE tasks SET status = 'SUCCEEDED', lease_expires_at = NULL, finished_at = $4, updated_at = $4
    WHERE id = $1 AND status IN ('RUNNING', 'QUEUED') AND attempt = $2
      AND NOT EXISTS (SELECT 1 FROM task_results WHERE idempotency_key = tasks.idempotency_key)
    RETURNING *
), r AS (
    INSERT INTO task_results (idempotency_key, task_id, attempt, status, output, artifact_ids, committed_at)
    SELECT t.idempotency_key, t.id, t.attempt, 'SUCCEEDED', $3, $5::uuid[], $4 FROM t
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING idempotency_key
)
SELECT t.*, (SELECT count(*) FROM r) AS claimed FROM t
"""

_INSERT_ARTIFACTS = """
INSERT INTO artifacts (id, run_id, phase, type, key, version, content, sha256, model, task_id,
                       input_artifact_ids, created_at)
SELECT u.id, u.run_id, u.phase, u.type, u.key,
       COALESCE((SELECT max(a.version) FROM artifacts a
                 WHERE a.run_id = u.run_id AND a.type = u.type AND a.key = u.key), 0)
         + row_number() OVER (PARTITION BY u.run_id, u.type, u.key ORDER BY u.n),
       u.content, u.sha256, u.model, u.task_id,
       string_to_array(u.inputs, ',')::uuid[], $1
FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::text[], $9::text[],
            $10::uuid[], $11::text[]) WITH ORDINALITY
     AS u(id, run_id, phase, type, key, content, sha256, model, task_id, inputs, n)
"""

_RESULT = "SELECT * FROM task_results WHERE idempotency_key = $1"


@dataclass(frozen=True)
class Completion:
    """One task completion for :meth:`ResultsMixin.commit_task_results` (same fields as the single call)."""

    task_id: str
    attempt: int
    output: JSON
    artifacts: Sequence[NewArtifact] = ()
    events: Sequence[Event] = ()
    notice: JSON | None = None
    artifact_ids: list[str] = field(default_factory=list)  #: filled by the store


def _result_record(row: Any) -> TaskResultRecord:
    return to_record(TaskResultRecord, row)


async def _insert_artifacts(
    conn: Conn, items: Sequence[tuple[TaskRecord, Completion]], now: datetime
) -> None:
    """Insert every artifact of ``items`` in one statement (versions numbered in order)."""
    rows = [
        (task, c, a, aid) for task, c in items for a, aid in zip(c.artifacts, c.artifact_ids, strict=True)
    ]
    if not rows:
        return
    await conn.execute(
        _INSERT_ARTIFACTS,
        now,
        [aid for *_, aid in rows],
        [t.run_id for t, *_ in rows],
        [t.phase for t, *_ in rows],
        [a.type for _, _, a, _ in rows],
        [artifact_key(t.task_key) for t, *_ in rows],
        [a.content for _, _, a, _ in rows],
        [content_hash(a.content) for _, _, a, _ in rows],
        [a.model for _, _, a, _ in rows],
        [t.id for t, *_ in rows],
        [",".join(a.input_artifact_ids) for _, _, a, _ in rows],  # uuids never contain commas
    )


class ResultsMixin(StoreBase):
    """Exactly-once task completion, results and artifacts."""

    async def commit_task_result(
        self,
        task_id: str,
        *,
        attempt: int,
        output: JSON,
        artifacts: Sequence[NewArtifact],
        events: Sequence[Event] = (),
        notice: JSON | None = None,
    ) -> TaskResultRecord:
        """Commit result, artifacts, events, notice and SUCCEEDED together — once per key.

        The existing-result check comes before the fence: a redelivered or stale attempt
        whose effect is already committed gets that result back, not an error.
        """
        done = await self.commit_task_results(
            [Completion(task_id, attempt, output, artifacts, events, notice)]
        )
        return done[0]

    async def commit_task_results(self, completions: Sequence[Completion]) -> list[TaskResultRecord]:
        """Commit many task completions in one transaction (this backend's batching extension).

        Each completion follows the rules of :meth:`commit_task_result`. The batch is
        atomic: if any completion is refused (StaleAttempt, Conflict, NotFound) nothing
        is written and the error propagates. Completions whose key was already committed
        return that result and write nothing. Results come back in input order.
        """
        for c in completions:
            require_id(c.task_id, "task")
        now = utcnow()
        prepared = [
            Completion(
                c.task_id,
                c.attempt,
                c.output,
                c.artifacts,
                c.events,
                c.notice,
                [new_id() for _ in c.artifacts],
            )
            for c in completions
        ]

        async def tx(conn: Conn) -> list[TaskResultRecord]:
            results: list[TaskResultRecord | None] = []
            fresh: list[tuple[TaskRecord, Completion]] = []
            for c in prepared:
                row = await conn.fetchrow(
                    _FENCE_AND_CLAIM, c.task_id, c.attempt, c.output, now, c.artifact_ids
                )
                if row is not None and row["claimed"]:
                    fresh.append((to_record(TaskRecord, row), c))
                    results.append(None)
                    continue
                results.append(await self._existing_or_refuse(conn, c))
            await _insert_artifacts(conn, fresh, now)
            notices: list[OutboxRow] = [
                (NOTICES_TOPIC, t.id, c.notice) for t, c in fresh if c.notice is not None
            ]
            await insert_outbox(conn, notices, now)
            for run_id in sorted({t.run_id for t, _ in fresh}):  # fixed order: no deadlock between batches
                evs = [e for t, c in fresh if t.run_id == run_id for e in c.events]
                await append_events(conn, run_id, evs, now)
            fresh_iter = iter(fresh)
            return [r if r is not None else _fresh_result(next(fresh_iter), now) for r in results]

        return await self._db.transaction(tx)

    @staticmethod
    async def _existing_or_refuse(conn: Conn, c: Completion) -> TaskResultRecord:
        """The fence did not match: return the committed result for the key, or raise why not."""
        key = await conn.fetchval("SELECT idempotency_key FROM tasks WHERE id = $1", c.task_id)
        if key is not None:
            existing = await conn.fetchrow(_RESULT, key)
            if existing is not None:
                return _result_record(existing)
        await diagnose(conn, c.task_id, attempt=c.attempt, new=_T.SUCCEEDED, expected=(_T.RUNNING, _T.QUEUED))

    async def get_task_result(self, idempotency_key: str) -> TaskResultRecord | None:
        """The committed result for a key, if any."""
        row = await self._db.fetchrow(_RESULT, idempotency_key)
        return None if row is None else _result_record(row)

    async def list_artifacts(
        self, run_id: str, *, phase: str | None = None, type: str | None = None, latest_only: bool = True
    ) -> list[ArtifactRecord]:
        """Artifacts in creation order; by default only the newest version per (type, key)."""
        require_id(run_id, "run")
        rows = await self._db.fetch(
            """SELECT * FROM artifacts a
               WHERE a.run_id = $1 AND ($2::text IS NULL OR a.phase = $2) AND ($3::text IS NULL OR a.type = $3)
                 AND (NOT $4 OR a.version = (SELECT max(b.version) FROM artifacts b
                                             WHERE b.run_id = a.run_id AND b.type = a.type AND b.key = a.key))
               ORDER BY a.created_at, a.id""",
            run_id,
            phase,
            type,
            latest_only,
        )
        return [to_record(ArtifactRecord, r) for r in rows]

    async def get_artifact(self, artifact_id: str) -> ArtifactRecord:
        """One artifact; NotFound when missing."""
        require_id(artifact_id, "artifact")
        row = await self._db.fetchrow("SELECT * FROM artifacts WHERE id = $1", artifact_id)
        if row is None:
            raise NotFound(f"artifact {artifact_id} not found", artifact_id=artifact_id)
        return to_record(ArtifactRecord, row)


def _fresh_result(item: tuple[TaskRecord, Completion], now: datetime) -> TaskResultRecord:
    """The result row just written, rebuilt without another round trip."""
    task, c = item
    return TaskResultRecord(
        idempotency_key=task.idempotency_key,
        task_id=task.id,
        attempt=task.attempt,
        status=_T.SUCCEEDED,
        output=c.output,
        artifact_ids=tuple(c.artifact_ids),
        committed_at=now,
    )
