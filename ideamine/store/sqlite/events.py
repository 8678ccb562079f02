"""A run's history: the hash-chained ledger and phase checkpoints (SQLite)."""

from __future__ import annotations

from collections.abc import Sequence

from ideamine.ids import new_id
from ideamine.store._shared import to_record
from ideamine.store.ledger import verify_chain
from ideamine.store.records import JSON, CheckpointRecord, Event, LedgerRecord, LedgerVerification
from ideamine.store.sqlite._base import SqliteBase

__all__ = ["EventsMixin"]


class EventsMixin(SqliteBase):
    """Ledger appends, reads and verification; checkpoints."""

    async def append_events(self, run_id: str, events: Sequence[Event]) -> list[LedgerRecord]:
        """Append events on their own transaction."""
        async with self._tx() as tx:
            await tx.get("runs", run_id, what="run")
            return await tx.append_events(run_id, events)

    async def list_events(self, run_id: str, *, after_seq: int = 0, limit: int = 1000) -> list[LedgerRecord]:
        """Ledger rows with ``seq > after_seq``, in order."""
        async with self._tx(write=False) as tx:
            rows = await tx.all(
                "SELECT * FROM ledger WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (run_id, after_seq, limit),
            )
        return [to_record(LedgerRecord, r) for r in rows]

    async def verify_ledger(self, run_id: str) -> LedgerVerification:
        """Recompute the whole chain of a run from the stored rows."""
        async with self._tx(write=False) as tx:
            await tx.get("runs", run_id, what="run")
            rows = await tx.all("SELECT * FROM ledger WHERE run_id = ? ORDER BY seq", (run_id,))
        return verify_chain([to_record(LedgerRecord, r) for r in rows])

    # ------------------------------------------------------------- checkpoints
    async def save_checkpoint(
        self, run_id: str, phase: str, *, attempt: int, state: JSON, events: Sequence[Event] = ()
    ) -> CheckpointRecord:
        """Store a phase checkpoint with its events."""
        checkpoint_id = new_id()
        async with self._tx() as tx:
            await tx.get("runs", run_id, what="run")
            await tx.insert(
                "checkpoints",
                {
                    "id": checkpoint_id,
                    "run_id": run_id,
                    "phase": phase,
                    "attempt": attempt,
                    "state": state,
                    "created_at": tx.now,
                },
            )
            await tx.append_events(run_id, events)
            return to_record(CheckpointRecord, await tx.get("checkpoints", checkpoint_id, what="checkpoint"))

    async def list_checkpoints(self, run_id: str) -> list[CheckpointRecord]:
        """Checkpoints of a run, oldest first."""
        async with self._tx(write=False) as tx:
            rows = await tx.all(
                "SELECT * FROM checkpoints WHERE run_id = ? ORDER BY created_at, id", (run_id,)
            )
        return [to_record(CheckpointRecord, r) for r in rows]

    async def latest_checkpoint(self, run_id: str, phase: str) -> CheckpointRecord | None:
        """The newest checkpoint of one phase, if any."""
        async with self._tx(write=False) as tx:
            row = await tx.one(
                "SELECT * FROM checkpoints WHERE run_id = ? AND phase = ? ORDER BY created_at DESC, id DESC LIMIT 1",
                (run_id, phase),
            )
        return None if row is None else to_record(CheckpointRecord, row)
