"""Durable timers and phase checkpoints."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ideamine.errors import NotFound
from ideamine.ids import new_id
from ideamine.store._shared import TIMER_CLAIM_TIMEOUT, to_record, utcnow
from ideamine.store.postgres.db import Conn, StoreBase
from ideamine.store.postgres.events import append_events
from ideamine.store.postgres.runs import require_id
from ideamine.store.records import JSON, CheckpointRecord, Event, TimerRecord

__all__ = ["TimersMixin"]

#: claim due timers (unclaimed, or claimed and abandoned: see TIMER_CLAIM_TIMEOUT); SKIP LOCKED
#: lets replicas claim disjoint sets without waiting on each other
_CLAIM = """
UPDATE timers SET claimed_by = $1, claimed_at = $2
WHERE id IN (
    SELECT id FROM timers
    WHERE fired_at IS NULL AND (claimed_by IS NULL OR claimed_at < $6) AND fire_at <= $3
      AND ($4::uuid[] IS NULL OR run_id = ANY($4::uuid[]))
    ORDER BY fire_at, id LIMIT $5
    FOR UPDATE SKIP LOCKED
)
RETURNING *
"""


class TimersMixin(StoreBase):
    """Timers (armed once, claimed once) and checkpoints."""

    async def arm_timer(
        self, run_id: str, *, kind: str, key: str, fire_at: datetime, payload: JSON
    ) -> TimerRecord:
        """Create the timer, or return the one already armed under (run, kind, key)."""
        require_id(run_id, "run")
        now = utcnow()

        async def tx(conn: Conn) -> Any:
            if await conn.fetchval("SELECT 1 FROM runs WHERE id = $1", run_id) is None:
                raise NotFound(f"run {run_id} not found", run_id=run_id)
            await conn.execute(
                """INSERT INTO timers (id, run_id, kind, key, fire_at, payload, created_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (run_id, kind, key) DO NOTHING""",
                new_id(),
                run_id,
                kind,
                key,
                fire_at,
                payload,
                now,
            )
            return await conn.fetchrow(
                "SELECT * FROM timers WHERE run_id = $1 AND kind = $2 AND key = $3", run_id, kind, key
            )

        return to_record(TimerRecord, await self._db.transaction(tx))

    async def claim_due_timers(
        self,
        *,
        owner: str,
        now: datetime | None = None,
        limit: int = 100,
        run_ids: Sequence[str] | None = None,
    ) -> list[TimerRecord]:
        """Mark due, unfired timers (unclaimed or abandoned) as ``owner``'s and return them, earliest first."""
        if run_ids is not None and not run_ids:
            return []
        ids = None if run_ids is None else [require_id(r, "run") for r in run_ids]
        claimed_at = utcnow()
        rows = await self._db.transaction(
            lambda conn: conn.fetch(
                _CLAIM, owner, claimed_at, now or claimed_at, ids, limit, claimed_at - TIMER_CLAIM_TIMEOUT
            )
        )
        return sorted((to_record(TimerRecord, r) for r in rows), key=lambda t: (t.fire_at, t.id))

    async def complete_timer(self, timer_id: str) -> None:
        """Mark a claimed timer fired (idempotent: the first firing time is kept)."""
        require_id(timer_id, "timer")
        status = await self._db.transaction(
            lambda conn: conn.execute(
                "UPDATE timers SET fired_at = COALESCE(fired_at, $2) WHERE id = $1", timer_id, utcnow()
            )
        )
        if status.endswith(" 0"):
            raise NotFound(f"timer {timer_id} not found", timer_id=timer_id)

    async def cancel_timer(self, run_id: str, *, kind: str, key: str) -> bool:
        """Delete an unfired timer; True when one was deleted."""
        require_id(run_id, "run")
        status = await self._db.transaction(
            lambda conn: conn.execute(
                "DELETE FROM timers WHERE run_id = $1 AND kind = $2 AND key = $3 AND fired_at IS NULL",
                run_id,
                kind,
                key,
            )
        )
        return not status.endswith(" 0")

    # ------------------------------------------------------------- checkpoints
    async def save_checkpoint(
        self, run_id: str, phase: str, *, attempt: int, state: JSON, events: Sequence[Event] = ()
    ) -> CheckpointRecord:
        """Store a phase checkpoint (and its events)."""
        require_id(run_id, "run")
        now = utcnow()

        async def tx(conn: Conn) -> Any:
            if await conn.fetchval("SELECT 1 FROM runs WHERE id = $1", run_id) is None:
                raise NotFound(f"run {run_id} not found", run_id=run_id)
            row = await conn.fetchrow(
                """INSERT INTO checkpoints (id, run_id, phase, attempt, state, created_at)
                   VALUES ($1, $2, $3, $4, $5, $6) RETURNING *""",
                new_id(),
                run_id,
                phase,
                attempt,
                state,
                now,
            )
            await append_events(conn, run_id, events, now)
            return row

        return to_record(CheckpointRecord, await self._db.transaction(tx))

    async def list_checkpoints(self, run_id: str) -> list[CheckpointRecord]:
        """Checkpoints of a run, oldest first."""
        require_id(run_id, "run")
        rows = await self._db.fetch(
            "SELECT * FROM checkpoints WHERE run_id = $1 ORDER BY created_at, id", run_id
        )
        return [to_record(CheckpointRecord, r) for r in rows]

    async def latest_checkpoint(self, run_id: str, phase: str) -> CheckpointRecord | None:
        """The newest checkpoint of a phase."""
        require_id(run_id, "run")
        row = await self._db.fetchrow(
            "SELECT * FROM checkpoints WHERE run_id = $1 AND phase = $2 ORDER BY created_at DESC, id DESC LIMIT 1",
            run_id,
            phase,
        )
        return None if row is None else to_record(CheckpointRecord, row)
