"""Task results (exactly once per idempotency key) and the artifacts they carry (SQLite)."""

from __future__ import annotations

from collections.abc import Sequence

from ideamine.canonical import content_hash
from ideamine.enums import TASK_TRANSITIONS, TaskStatus
from ideamine.ids import new_id
from ideamine.store._shared import NOTICES_TOPIC, artifact_key, check_attempt, check_status, to_record
from ideamine.store.records import JSON, ArtifactRecord, Event, NewArtifact, TaskRecord, TaskResultRecord
from ideamine.store.sqlite._base import SqliteBase, Tx, where
from ideamine.store.sqlite.tasks import load_task

__all__ = ["ResultsMixin"]

_T = TaskStatus


class ResultsMixin(SqliteBase):
    """commit_task_result and artifact reads."""

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

        The existing-result check comes before the fence: a redelivered or stale
        attempt whose effect is already committed gets that result back, not an error.
        """
        async with self._tx() as tx:
            task = await load_task(tx, task_id)
            existing = await _result(tx, task.idempotency_key)
            if existing is not None:
                return existing
            check_attempt(task, attempt)
            check_status(
                TASK_TRANSITIONS,
                task.status,
                _T.SUCCEEDED,
                (_T.RUNNING, _T.QUEUED),
                what="task",
                ident=task_id,
            )
            artifact_ids = [await _insert_artifact(tx, task, a) for a in artifacts]
            await tx.insert(
                "task_results",
                {
                    "idempotency_key": task.idempotency_key,
                    "task_id": task_id,
                    "attempt": attempt,
                    "status": _T.SUCCEEDED,
                    "output": output,
                    "artifact_ids": artifact_ids,
                    "committed_at": tx.now,
                },
            )
            await tx.update(
                "tasks",
                {
                    "status": _T.SUCCEEDED,
                    "lease_expires_at": None,
                    "finished_at": tx.now,
                    "updated_at": tx.now,
                },
                "id = ?",
                (task_id,),
            )
            await tx.append_events(task.run_id, events)
            if notice is not None:
                await tx.outbox(NOTICES_TOPIC, task_id, notice)
            result = await _result(tx, task.idempotency_key)
        assert result is not None  # written above in the same transaction
        return result

    async def get_task_result(self, idempotency_key: str) -> TaskResultRecord | None:
        """The committed result for a key, if any."""
        async with self._tx(write=False) as tx:
            return await _result(tx, idempotency_key)

    async def list_artifacts(
        self, run_id: str, *, phase: str | None = None, type: str | None = None, latest_only: bool = True
    ) -> list[ArtifactRecord]:
        """Artifacts in creation order; by default only the newest version per (type, key)."""
        latest = (
            "a.version = (SELECT MAX(b.version) FROM artifacts b "
            "WHERE b.run_id = a.run_id AND b.type = a.type AND b.key = a.key)"
        )
        filters = {"a.run_id": run_id, "a.phase": phase, "a.type": type}
        cond, params = where(filters, *([latest] if latest_only else []))
        async with self._tx(write=False) as tx:
            rows = await tx.all(
                f"SELECT a.* FROM artifacts a WHERE {cond} ORDER BY a.created_at, a.id", params
            )
        return [to_record(ArtifactRecord, r) for r in rows]

    async def get_artifact(self, artifact_id: str) -> ArtifactRecord:
        """One artifact; NotFound when missing."""
        async with self._tx(write=False) as tx:
            return to_record(ArtifactRecord, await tx.get("artifacts", artifact_id, what="artifact"))


async def _result(tx: Tx, key: str) -> TaskResultRecord | None:
    row = await tx.one("SELECT * FROM task_results WHERE idempotency_key = ?", (key,))
    return None if row is None else to_record(TaskResultRecord, row)


async def _insert_artifact(tx: Tx, task: TaskRecord, artifact: NewArtifact) -> str:
    """Store one artifact as the next version of (run, type, key); returns its id."""
    key = artifact_key(task.task_key)
    row = await tx.one(
        "SELECT COALESCE(MAX(version), 0) + 1 AS next FROM artifacts WHERE run_id = ? AND type = ? AND key = ?",
        (task.run_id, artifact.type, key),
    )
    artifact_id = new_id()
    await tx.insert(
        "artifacts",
        {
            "id": artifact_id,
            "run_id": task.run_id,
            "phase": task.phase,
            "type": artifact.type,
            "key": key,
            "version": int(row["next"]) if row else 1,
            "content": artifact.content,
            "sha256": content_hash(artifact.content),
            "model": artifact.model,
            "task_id": task.id,
            "input_artifact_ids": list(artifact.input_artifact_ids),
            "created_at": tx.now,
        },
    )
    return artifact_id
