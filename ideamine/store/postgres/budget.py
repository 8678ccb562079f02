"""Budget scopes, reservations and threshold crossings.

``reserve`` and ``settle`` lock the scope and all its ancestors in id order (``… ORDER BY
id FOR UPDATE``): every reservation takes its locks in the same order, so concurrent
ones on overlapping paths queue instead of deadlocking, and the check ``used + reserved
+ request <= limit`` and the increment are atomic across the path. A run's scope rows are
locked by every model call of the run, so they are held as briefly as the work allows:
``reserve`` is one statement (held only while the server runs it, no ``BEGIN``/``COMMIT``
round trips), and ``settle`` takes them in the last statement of its transaction, after
writing the call's row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ideamine.errors import Conflict, NotFound
from ideamine.ids import new_id
from ideamine.store._shared import (
    limits_from_row,
    limits_params,
    new_crossings,
    overshoot,
    to_record,
    utcnow,
)
from ideamine.store.postgres.db import Conn, StoreBase
from ideamine.store.postgres.events import append_events
from ideamine.store.postgres.hosts import insert_llm_call
from ideamine.store.postgres.runs import require_id
from ideamine.store.records import (
    BudgetEventRecord,
    BudgetLimits,
    BudgetScopeRecord,
    Event,
    LLMCallRecord,
    Reservation,
)

__all__ = ["BudgetMixin"]

_SCOPES = """
SELECT s.*, ARRAY(SELECT e.threshold FROM budget_events e WHERE e.scope_id = s.id ORDER BY e.threshold)
            AS thresholds_crossed
FROM budget_scopes s WHERE {where} ORDER BY s.created_at, s.id
"""

#: the scope and its ancestors (innermost first), locked in id order so that concurrent
#: reservations on overlapping paths queue instead of deadlocking; each row says in which
#: dimension ``used + reserved + request`` would pass its limit (NULL: it fits), and only
#: when every row fits are the reservation added to them and its row stored
_RESERVE = """
WITH RECURSIVE path AS (
    SELECT id, parent_id, 0 AS depth FROM budget_scopes WHERE id = $1::uuid
    UNION ALL
    SELECT s.id, s.parent_id, p.depth + 1 FROM budget_scopes s JOIN path p ON s.id = p.parent_id
), locked AS (
    SELECT s.* FROM budget_scopes s WHERE s.id IN (SELECT id FROM path) ORDER BY s.id FOR UPDATE
), checked AS (
    SELECT l.*, p.depth, CASE
        WHEN l.limit_tokens IS NOT NULL AND l.used_tokens + l.reserved_tokens + $2::bigint > l.limit_tokens
            THEN 'tokens'
        -- the float-dust tolerance of ideamine.store._shared.limits_exceeded
        WHEN l.limit_usd IS NOT NULL AND l.used_usd + l.reserved_usd + $3::numeric > l.limit_usd + 1e-9
            THEN 'usd'
    END AS overshoots
    FROM locked l JOIN path p ON p.id = l.id
), held AS (
    UPDATE budget_scopes s SET reserved_tokens = s.reserved_tokens + $2::bigint,
        reserved_usd = s.reserved_usd + $3::numeric
    FROM checked c WHERE s.id = c.id AND NOT EXISTS (SELECT 1 FROM checked WHERE overshoots IS NOT NULL)
), kept AS (
    INSERT INTO budget_reservations (id, run_id, scope_ids, tokens, usd, created_at)
    SELECT $4::uuid, (array_agg(run_id))[1], array_agg(id ORDER BY depth), $2::bigint, $3::numeric,
           $5::timestamptz
    FROM checked HAVING count(*) > 0 AND count(overshoots) = 0
)
SELECT * FROM checked ORDER BY depth
"""

#: release a reservation and add the actual usage, locking its scopes in id order like
#: ``_RESERVE``; the updated scopes come back with their crossed thresholds (none: not held)
_SETTLE = """
WITH held AS (
    DELETE FROM budget_reservations WHERE id = $1 RETURNING run_id, scope_ids, tokens, usd
), locked AS (
    SELECT s.id FROM budget_scopes s WHERE s.id = ANY((SELECT scope_ids FROM held)::uuid[]) ORDER BY s.id FOR UPDATE
), settled AS (
    UPDATE budget_scopes s SET reserved_tokens = GREATEST(s.reserved_tokens - h.tokens, 0),
        reserved_usd = GREATEST(s.reserved_usd - h.usd, 0),
        used_tokens = s.used_tokens + $2, used_usd = s.used_usd + $3
    FROM held h WHERE s.id IN (SELECT id FROM locked)
    RETURNING s.*
)
SELECT s.*, ARRAY(SELECT e.threshold FROM budget_events e WHERE e.scope_id = s.id ORDER BY e.threshold)
            AS thresholds_crossed
FROM settled s
"""


def _scope(row: Any) -> BudgetScopeRecord:
    return to_record(
        BudgetScopeRecord,
        row,
        limits=limits_from_row(row, "limit"),
        thresholds_crossed=tuple(row["thresholds_crossed"]),
    )


class BudgetMixin(StoreBase):
    """Budget scopes, reserve/settle, threshold events."""

    async def ensure_budget_scope(
        self, run_id: str, *, kind: str, name: str, limits: BudgetLimits, parent_id: str | None
    ) -> BudgetScopeRecord:
        """Create the scope if (run, kind, name) is new; return the stored scope either way."""
        require_id(run_id, "run")
        if parent_id is not None:
            require_id(parent_id, "budget scope")
        now = utcnow()

        async def tx(conn: Conn) -> Any:
            if await conn.fetchval("SELECT 1 FROM runs WHERE id = $1", run_id) is None:
                raise NotFound(f"run {run_id} not found", run_id=run_id)
            if (
                parent_id is not None
                and await conn.fetchval("SELECT 1 FROM budget_scopes WHERE id = $1", parent_id) is None
            ):
                raise NotFound(f"budget scope {parent_id} not found", scope_id=parent_id)
            await conn.execute(
                """INSERT INTO budget_scopes (id, run_id, kind, name, parent_id, limit_tokens, limit_usd,
                       limit_wall_clock_seconds, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                   ON CONFLICT (run_id, kind, name) DO NOTHING""",
                new_id(),
                run_id,
                kind,
                name,
                parent_id,
                *limits_params(limits),
                now,
            )
            return await conn.fetchrow(
                _SCOPES.format(where="s.run_id = $1 AND s.kind = $2 AND s.name = $3"), run_id, kind, name
            )

        return _scope(await self._db.transaction(tx))

    async def get_budget_scopes(self, run_id: str) -> list[BudgetScopeRecord]:
        """All scopes of a run, in creation order (the run scope first)."""
        require_id(run_id, "run")
        return [_scope(r) for r in await self._db.fetch(_SCOPES.format(where="s.run_id = $1"), run_id)]

    async def reserve(self, scope_id: str, *, tokens: int, usd: float) -> Reservation:
        """Reserve on the scope and every ancestor, or raise BudgetExceeded and write nothing.

        One statement (``_RESERVE``): the scope path's row locks, taken for every model
        call of the run, are held only while the server runs it.
        """
        require_id(scope_id, "budget scope")
        reservation_id = new_id()
        rows = await self._db.statement(
            lambda conn: conn.fetch(_RESERVE, scope_id, tokens, usd, reservation_id, utcnow())
        )
        if not rows:
            raise NotFound(f"budget scope {scope_id} not found", scope_id=scope_id)
        refused = next((row for row in rows if row["overshoots"] is not None), None)
        if refused is not None:
            raise overshoot(refused, refused["overshoots"], tokens=tokens, usd=usd)
        return Reservation(
            id=reservation_id, scope_ids=tuple(row["id"] for row in rows), tokens=tokens, usd=usd
        )

    async def settle(
        self,
        reservation: Reservation,
        *,
        tokens: int,
        usd: float,
        events: Sequence[Event] = (),
        call: LLMCallRecord | None = None,
    ) -> list[BudgetScopeRecord]:
        """Release a reservation, add the actual usage, and record new threshold crossings once.

        ``call`` (the model call the reservation paid for) is stored in the same transaction.

        Raises:
            Conflict: the reservation was already settled (or never made).
        """
        require_id(reservation.id, "reservation")
        now = utcnow()

        async def tx(conn: Conn) -> list[BudgetScopeRecord]:
            if call is not None:  # first: the scope locks of _SETTLE are then held for one round trip less
                await insert_llm_call(conn, call)
            rows = await conn.fetch(_SETTLE, reservation.id, tokens, usd)
            if not rows:
                raise Conflict(f"reservation {reservation.id} is not held", reservation_id=reservation.id)
            ids = list(reservation.scope_ids)
            scopes = [_scope(r) for r in rows]
            crossings = await _record_crossings(conn, scopes, now)
            await append_events(conn, rows[0]["run_id"], [*events, *crossings], now)
            if crossings:
                scopes = [
                    _scope(r) for r in await conn.fetch(_SCOPES.format(where="s.id = ANY($1::uuid[])"), ids)
                ]
            by_id = {s.id: s for s in scopes}
            return [by_id[i] for i in ids]

        return await self._db.transaction(tx)

    async def budget_events(self, run_id: str) -> list[BudgetEventRecord]:
        """Threshold crossings of a run, oldest first."""
        require_id(run_id, "run")
        rows = await self._db.fetch(
            "SELECT * FROM budget_events WHERE run_id = $1 ORDER BY created_at, id", run_id
        )
        return [to_record(BudgetEventRecord, r) for r in rows]


async def _record_crossings(conn: Conn, scopes: Sequence[BudgetScopeRecord], now: Any) -> list[Event]:
    """Store each newly crossed threshold once (unique per scope) and return its ledger events."""
    found = [
        (scope, threshold, dimension)
        for scope in scopes
        for threshold, dimension in new_crossings(
            scope.limits,
            used_tokens=scope.used_tokens,
            used_usd=scope.used_usd,
            already=scope.thresholds_crossed,
        )
    ]
    if not found:
        return []
    await conn.executemany(
        """INSERT INTO budget_events (id, run_id, scope_id, threshold, dimension, created_at)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (scope_id, threshold) DO NOTHING""",
        [(new_id(), s.run_id, s.id, t, d, now) for s, t, d in found],
    )
    return [
        Event(
            type="budget.threshold",
            phase=s.name if s.kind == "phase" else None,
            payload={"scope_id": s.id, "kind": s.kind, "name": s.name, "threshold": t, "dimension": d},
        )
        for s, t, d in found
    ]
