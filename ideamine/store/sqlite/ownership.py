"""Run leases and durable timers: what an orchestrator replica owns and fires (SQLite).

Claims happen inside ``BEGIN IMMEDIATE``: the select-then-mark of due timers and the
check-then-take of a lease are one atomic step, the single-writer counterpart of
PostgreSQL's ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from ideamine.enums import TERMINAL_RUN_STATUSES
from ideamine.ids import new_id
from ideamine.store._shared import TIMER_CLAIM_TIMEOUT, to_record, utcnow
from ideamine.store.records import JSON, LeaseRecord, TimerRecord
from ideamine.store.sqlite._base import SqliteBase, marks

__all__ = ["OwnershipMixin"]

_TERMINAL = sorted(TERMINAL_RUN_STATUSES)


class OwnershipMixin(SqliteBase):
    """Leases (fenced run ownership) and timers (claimed once each)."""

    async def acquire_lease(self, run_id: str, *, owner: str, ttl_seconds: float) -> LeaseRecord | None:
        """Take the run when free or expired (fence + 1), renew when held; None while another holds it."""
        async with self._tx() as tx:
            await tx.get("runs", run_id, what="run")
            lease = await tx.one("SELECT * FROM run_leases WHERE run_id = ?", (run_id,))
            expires = tx.now + timedelta(seconds=ttl_seconds)
            if lease is None:
                fence = 1
                await tx.insert(
                    "run_leases", {"run_id": run_id, "owner": owner, "fence": fence, "expires_at": expires}
                )
            else:
                held = to_record(LeaseRecord, lease)
                if held.owner != owner and held.expires_at > tx.now:
                    return None
                fence = held.fence if held.owner == owner else held.fence + 1
                await tx.update(
                    "run_leases",
                    {"owner": owner, "fence": fence, "expires_at": expires},
                    "run_id = ?",
                    (run_id,),
                )
        return LeaseRecord(run_id=run_id, owner=owner, fence=fence, expires_at=expires)

    async def renew_leases(
        self, run_ids: Sequence[str], *, owner: str, ttl_seconds: float
    ) -> dict[str, LeaseRecord]:
        """Extend ``owner``'s leases among ``run_ids`` in one transaction (see the protocol)."""
        wanted = list(dict.fromkeys(run_ids))
        if not wanted:
            return {}
        async with self._tx() as tx:
            expires = tx.now + timedelta(seconds=ttl_seconds)
            held = await tx.all(
                f"SELECT * FROM run_leases WHERE owner = ? AND run_id IN ({marks(wanted)})",
                (owner, *wanted),
            )
            mine = [to_record(LeaseRecord, r) for r in held]
            if mine:
                await tx.update(
                    "run_leases",
                    {"expires_at": expires},
                    f"owner = ? AND run_id IN ({marks(mine)})",
                    (owner, *(m.run_id for m in mine)),
                )
        return {m.run_id: replace(m, expires_at=expires) for m in mine}

    async def release_lease(self, run_id: str, *, owner: str) -> None:
        """Give the run up; the next owner (even this one again) gets a higher fence."""
        async with self._tx() as tx:
            await tx.update(
                "run_leases", {"owner": "", "expires_at": tx.now}, "run_id = ? AND owner = ?", (run_id, owner)
            )

    async def runs_needing_owner(self, *, limit: int = 100) -> list[str]:
        """Non-terminal runs without a live lease, oldest first."""
        async with self._tx(write=False) as tx:
            rows = await tx.all(
                "SELECT r.id FROM runs r LEFT JOIN run_leases l ON l.run_id = r.id "
                f"WHERE r.status NOT IN ({marks(_TERMINAL)}) AND (l.run_id IS NULL OR l.expires_at <= ?) "
                "ORDER BY r.id LIMIT ?",
                (*_TERMINAL, tx.now, limit),
            )
        return [str(r["id"]) for r in rows]

    # ------------------------------------------------------------------ timers
    async def arm_timer(
        self, run_id: str, *, kind: str, key: str, fire_at: datetime, payload: JSON
    ) -> TimerRecord:
        """Create the timer, or return the one already armed under (run, kind, key)."""
        async with self._tx() as tx:
            await tx.get("runs", run_id, what="run")
            await tx.run(
                "INSERT INTO timers (id, run_id, kind, key, fire_at, payload, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (run_id, kind, key) DO NOTHING",
                (new_id(), run_id, kind, key, fire_at, payload, tx.now),
            )
            row = await tx.one(
                "SELECT * FROM timers WHERE run_id = ? AND kind = ? AND key = ?", (run_id, kind, key)
            )
        return to_record(TimerRecord, row or {})

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
        where = "fired_at IS NULL AND (claimed_by IS NULL OR claimed_at < ?) AND fire_at <= ?"
        params: list[Any] = [utcnow() - TIMER_CLAIM_TIMEOUT, now or utcnow()]
        if run_ids is not None:
            where += f" AND run_id IN ({marks(run_ids)})"
            params.extend(run_ids)
        async with self._tx() as tx:
            rows = await tx.all(
                "UPDATE timers SET claimed_by = ?, claimed_at = ? WHERE id IN "
                f"(SELECT id FROM timers WHERE {where} ORDER BY fire_at, id LIMIT ?) RETURNING *",
                [owner, tx.now, *params, limit],
            )
        timers = [to_record(TimerRecord, r) for r in rows]
        return sorted(timers, key=_timer_order)

    async def complete_timer(self, timer_id: str) -> None:
        """Mark a claimed timer fired (idempotent: the first firing time is kept)."""
        async with self._tx() as tx:
            await tx.get("timers", timer_id, what="timer")
            await tx.run(
                "UPDATE timers SET fired_at = COALESCE(fired_at, ?) WHERE id = ?", (tx.now, timer_id)
            )

    async def cancel_timer(self, run_id: str, *, kind: str, key: str) -> bool:
        """Delete an unfired timer; True when one was deleted."""
        async with self._tx() as tx:
            count = await tx.run(
                "DELETE FROM timers WHERE run_id = ? AND kind = ? AND key = ? AND fired_at IS NULL",
                (run_id, kind, key),
            )
        return count > 0


def _timer_order(timer: TimerRecord) -> tuple[Any, ...]:
    return (timer.fire_at, timer.id)
