"""Task results and artifacts: the exactly-once completion and its reads.

``commit_task_result`` is the hot path of the whole system (every agent task ends in
one), so a commit — of one completion or of a batch — is two statements inside its
transaction, whatever the number of tasks, artifacts, events and notices:

1. :data:`_FENCE_AND_CLAIM` fences the tasks (guarded ``UPDATE … WHERE status IN
   (RUNNING, QUEUED) AND attempt = $n`` and no result for the key yet), inserts their
   results under the idempotency keys (``ON CONFLICT DO NOTHING``), and locks and
   advances each run's ledger head, returning the seqs and previous hash to chain from;
2. :data:`_WRITE_EFFECTS` inserts the artifacts (versions numbered per (run, type,
   key); a concurrent writer of the same version loses on ``artifacts_version_unique``
   and the transaction is re-run), the ledger rows (hashed in Python by
   :mod:`ideamine.store.ledger`), stores the new chain heads, and inserts the outbox
   notices (returning them for this process's relay, see :func:`insert_outbox_rows`).

A completion the fence refuses is diagnosed afterwards: an already-committed key returns
its result; otherwise NotFound / StaleAttempt / Conflict is raised and nothing is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ideamine.batching import Grouped
from ideamine.canonical import content_hash
from ideamine.enums import TaskStatus
from ideamine.errors import Conflict, NotFound
from ideamine.ids import new_id
from ideamine.store._shared import NOTICES_TOPIC, artifact_key, to_record, utcnow
from ideamine.store.postgres.db import Conn, StoreBase, insert_outbox_rows
from ideamine.store.postgres.events import OutboxRow, chain_params, chain_runs
from ideamine.store.postgres.runs import require_id
from ideamine.store.postgres.tasks import diagnose
from ideamine.store.records import JSON, ArtifactRecord, Event, NewArtifact, TaskResultRecord

__all__ = ["ResultsMixin", "Completion"]

_T = TaskStatus

#: fence the tasks, claim their keys, advance their runs' ledger heads — one statement
_FENCE_AND_CLAIM = """
WITH u AS (
    SELECT * FROM unnest($1::uuid[], $2::int[], $3::jsonb[], $4::text[], $5::int[])
        WITH ORDINALITY AS u(id, attempt, output, artifact_ids, events, n)
), t AS (
    UPDATE tasks SET status = 'SUCCEEDED', lease_expires_at = NULL, finished_at = $6, updated_at = $6
    FROM u
    WHERE tasks.id = ANY($1::uuid[])  -- an index condition even under a generic plan
      AND tasks.id = u.id AND tasks.status IN ('RUNNING', 'QUEUED') AND tasks.attempt = u.attempt
      AND NOT EXISTS (SELECT 1 FROM task_results r WHERE r.idempotency_key = tasks.idempotency_key)
    RETURNING tasks.id, tasks.run_id, tasks.phase, tasks.task_key, tasks.idempotency_key, tasks.attempt,
              u.output, u.artifact_ids, u.events, u.n
), r AS (
    INSERT INTO task_results (idempotency_key, task_id, attempt, status, output, artifact_ids, committed_at)
    SELECT idempotency_key, id, attempt, 'SUCCEEDED', output, string_to_array(artifact_ids, ',')::uuid[], $6 FROM t
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING idempotency_key
), h AS (
    UPDATE ledger_heads SET last_seq = last_seq + c.events
    FROM (SELECT run_id, sum(events)::bigint AS events FROM t GROUP BY run_id HAVING sum(events) > 0) c
    WHERE ledger_heads.run_id = ANY(ARRAY(SELECT run_id FROM t)) AND ledger_heads.run_id = c.run_id
    RETURNING ledger_heads.run_id, last_seq - c.events AS start, last_hash
)
SELECT t.*, h.start, h.last_hash, (SELECT count(*) FROM r) AS claimed
FROM t LEFT JOIN h ON h.run_id = t.run_id ORDER BY t.n
"""

#: artifacts, ledger rows, the new chain heads and outbox notices — one statement
_WRITE_EFFECTS = """
WITH a AS (
    INSERT INTO artifacts (id, run_id, phase, type, key, version, content, sha256, model, task_id,
                           input_artifact_ids, created_at)
    SELECT u.id, u.run_id, u.phase, u.type, u.key,
           COALESCE((SELECT max(a.version) FROM artifacts a
                     WHERE a.run_id = u.run_id AND a.type = u.type AND a.key = u.key), 0)
             + row_number() OVER (PARTITION BY u.run_id, u.type, u.key ORDER BY u.n),
           u.content, u.sha256, u.model, u.task_id, string_to_array(u.inputs, ',')::uuid[], $1
    FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::text[], $9::text[],
                $10::uuid[], $11::text[]) WITH ORDINALITY
         AS u(id, run_id, phase, type, key, content, sha256, model, task_id, inputs, n)
), l AS (
    INSERT INTO ledger (run_id, seq, type, phase, task_id, payload, prev_hash, hash, created_at)
    SELECT u.*, $1 FROM unnest($12::uuid[], $13::bigint[], $14::text[], $15::text[], $16::uuid[], $17::jsonb[],
                               $18::text[], $19::text[])
        AS u(run_id, seq, type, phase, task_id, payload, prev_hash, hash)
), h AS (
    UPDATE ledger_heads SET last_hash = v.hash
    FROM unnest($22::uuid[], $23::text[]) AS v(run_id, hash)
    WHERE ledger_heads.run_id = ANY($22::uuid[]) AND ledger_heads.run_id = v.run_id
)
INSERT INTO outbox (topic, task_id, payload, created_at, claimed_by, claimed_until)
SELECT 'notices', u.task_id, u.payload, $1, $24, $25 FROM unnest($20::uuid[], $21::jsonb[]) AS u(task_id, payload)
RETURNING id, topic, task_id
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


class _ClaimRace(Exception):
    """A fenced task's key was committed by another transaction between fence and insert.

    Raised inside the transaction so it rolls back; the store re-runs it, and the re-run
    finds the committed result (see :func:`ideamine.store.postgres.db.Database.transaction`).
    """


def _effects_params(
    fresh: Sequence[tuple[Any, Completion]], now: datetime
) -> tuple[list[Any], list[OutboxRow]]:
    """Parameters of :data:`_WRITE_EFFECTS` for the fenced completions (in input order), and
    the notice rows it inserts."""
    arts = [(t, a, aid) for t, c in fresh for a, aid in zip(c.artifacts, c.artifact_ids, strict=True)]
    ledger, heads = chain_runs([(t["run_id"], t["start"], t["last_hash"], c.events) for t, c in fresh], now)
    notices: list[OutboxRow] = [(NOTICES_TOPIC, t["id"], c.notice) for t, c in fresh if c.notice is not None]
    params = [
        now,
        [aid for *_, aid in arts],
        [t["run_id"] for t, *_ in arts],
        [t["phase"] for t, *_ in arts],
        [a.type for _, a, _ in arts],
        [artifact_key(t["task_key"]) for t, *_ in arts],
        [a.content for _, a, _ in arts],
        [content_hash(a.content) for _, a, _ in arts],
        [a.model for _, a, _ in arts],
        [t["id"] for t, *_ in arts],
        [",".join(a.input_artifact_ids) for _, a, _ in arts],  # uuids never contain commas
        *chain_params(ledger),
        [n[1] for n in notices],
        [n[2] for n in notices],
        list(heads),
        list(heads.values()),
    ]
    return params, notices


class ResultsMixin(StoreBase):
    """Exactly-once task completion, results and artifacts."""

    #: concurrent ``commit_task_result`` calls, committed together (set up by the store)
    _commits: Grouped[Completion, TaskResultRecord]

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
        Completions committed concurrently (a host's slots finishing together) share one
        transaction (:mod:`ideamine.batching`); each caller still gets
        the answer of a call of its own.
        """
        require_id(task_id, "task")
        return await self._commits(Completion(task_id, attempt, output, artifacts, events, notice))

    async def commit_task_results(self, completions: Sequence[Completion]) -> list[TaskResultRecord]:
        """Commit many task completions in one transaction (this backend's batching extension).

        Each completion follows the rules of :meth:`commit_task_result`. The batch is
        atomic: if any completion is refused (StaleAttempt, Conflict, NotFound) nothing
        is written and the error propagates. Completions whose key was already committed
        return that result and write nothing. Results come back in input order. Two
        completions of one batch must not share an idempotency key (Conflict).
        """
        for c in completions:
            require_id(c.task_id, "task")
        if not completions:
            return []
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
        params = (
            [c.task_id for c in prepared],
            [c.attempt for c in prepared],
            [c.output for c in prepared],
            [",".join(c.artifact_ids) for c in prepared],
            [len(c.events) for c in prepared],
            now,
        )

        async def tx(conn: Conn) -> list[TaskResultRecord]:
            rows = await conn.fetch(_FENCE_AND_CLAIM, *params)
            if rows and rows[0]["claimed"] != len(rows):
                raise _ClaimRace
            fenced = {r["n"] - 1: r for r in rows}
            results: list[TaskResultRecord] = []
            for i, c in enumerate(prepared):
                row = fenced.get(i)
                results.append(_fresh_result(row, c, now) if row else await self._existing_or_refuse(conn, c))
            fresh = [(fenced[i], c) for i, c in enumerate(prepared) if i in fenced]
            if fresh:
                effects, notices = _effects_params(fresh, now)
                await insert_outbox_rows(conn, _WRITE_EFFECTS, effects, notices, now)
            return results

        try:
            return await self._db.transaction(tx, retry_on=(_ClaimRace,))
        except _ClaimRace as exc:
            raise Conflict(
                "two completions in one batch share an idempotency key; commit them separately"
            ) from exc

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


def _fresh_result(row: Any, c: Completion, now: datetime) -> TaskResultRecord:
    """The result row just written, rebuilt without another round trip."""
    return TaskResultRecord(
        idempotency_key=row["idempotency_key"],
        task_id=row["id"],
        attempt=row["attempt"],
        status=_T.SUCCEEDED,
        output=c.output,
        artifact_ids=tuple(c.artifact_ids),
        committed_at=now,
    )
