"""Budget scopes, reservations and threshold crossings (SQLite).

A reservation checks and bumps every scope on the path to the run scope inside one
``BEGIN IMMEDIATE`` transaction, so concurrent reservations are serialised and the
sum of what is used and reserved never passes a limit. Reservations are rows: a
settle deletes its row first, so the same reservation is never released twice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from ideamine.errors import Conflict
from ideamine.ids import new_id
from ideamine.store._shared import check_fits, limits_from_row, limits_params, new_crossings, to_record
from ideamine.store.records import (
    BudgetEventRecord,
    BudgetLimits,
    BudgetScopeRecord,
    Event,
    LLMCallRecord,
    Reservation,
)
from ideamine.store.sqlite._base import SqliteBase, Tx, marks

__all__ = ["BudgetsMixin", "insert_scope"]


async def insert_scope(
    tx: Tx, run_id: str, *, kind: str, name: str, limits: BudgetLimits, parent_id: str | None
) -> None:
    """Insert a scope unless (run, kind, name) exists already."""
    tokens, usd, wall = limits_params(limits)
    await tx.run(
        "INSERT INTO budget_scopes (id, run_id, kind, name, parent_id, limit_tokens, limit_usd, "
        "limit_wall_clock_seconds, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (run_id, kind, name) DO NOTHING",
        (new_id(), run_id, kind, name, parent_id, tokens, usd, wall, tx.now),
    )


async def _scopes(tx: Tx, where: str, params: Sequence[Any]) -> list[BudgetScopeRecord]:
    rows = await tx.all(f"SELECT * FROM budget_scopes WHERE {where} ORDER BY created_at, id", params)
    if not rows:
        return []
    ids = [r["id"] for r in rows]
    crossed: dict[str, list[int]] = {}
    for ev in await tx.all(
        f"SELECT scope_id, threshold FROM budget_events WHERE scope_id IN ({marks(ids)})", ids
    ):
        crossed.setdefault(ev["scope_id"], []).append(int(ev["threshold"]))
    return [
        to_record(
            BudgetScopeRecord,
            r,
            limits=limits_from_row(r, "limit"),
            thresholds_crossed=tuple(sorted(crossed.get(r["id"], []))),
        )
        for r in rows
    ]


async def _chain(tx: Tx, scope_id: str) -> list[dict[str, Any]]:
    """The scope and its ancestors, innermost first."""
    chain: list[dict[str, Any]] = []
    current: str | None = scope_id
    while current is not None:
        row = await tx.get("budget_scopes", current, what="budget scope")
        chain.append(row)
        current = row["parent_id"]
    return chain


class BudgetsMixin(SqliteBase):
    """Budget scopes, reserve/settle, threshold events."""

    async def ensure_budget_scope(
        self, run_id: str, *, kind: str, name: str, limits: BudgetLimits, parent_id: str | None
    ) -> BudgetScopeRecord:
        """Create the scope if (run, kind, name) is new; return the stored scope either way."""
        async with self._tx() as tx:
            await tx.get("runs", run_id, what="run")
            if parent_id is not None:
                await tx.get("budget_scopes", parent_id, what="budget scope")
            await insert_scope(tx, run_id, kind=kind, name=name, limits=limits, parent_id=parent_id)
            scopes = await _scopes(tx, "run_id = ? AND kind = ? AND name = ?", (run_id, kind, name))
        return scopes[0]

    async def get_budget_scopes(self, run_id: str) -> list[BudgetScopeRecord]:
        """All scopes of a run, in creation order (the run scope first)."""
        async with self._tx(write=False) as tx:
            return await _scopes(tx, "run_id = ?", (run_id,))

    async def reserve(self, scope_id: str, *, tokens: int, usd: float) -> Reservation:
        """Reserve on the scope and every ancestor, or raise BudgetExceeded and write nothing."""
        async with self._tx() as tx:
            chain = await _chain(tx, scope_id)
            for row in chain:
                check_fits(row, tokens=tokens, usd=usd)
            ids = [row["id"] for row in chain]
            await tx.run(
                "UPDATE budget_scopes SET reserved_tokens = reserved_tokens + ?, reserved_usd = reserved_usd + ? "
                f"WHERE id IN ({marks(ids)})",
                (tokens, usd, *ids),
            )
            reservation = Reservation(id=new_id(), scope_ids=tuple(ids), tokens=tokens, usd=usd)
            await tx.insert(
                "budget_reservations",
                {
                    "id": reservation.id,
                    "run_id": chain[0]["run_id"],
                    "scope_ids": ids,
                    "tokens": tokens,
                    "usd": usd,
                    "created_at": tx.now,
                },
            )
        return reservation

    async def settle(
        self,
        reservation: Reservation,
        *,
        tokens: int,
        usd: float,
        events: Sequence[Event] = (),
        call: LLMCallRecord | None = None,
    ) -> list[BudgetScopeRecord]:
        """Release a reservation, add the actual usage, and record new threshold crossings.

        ``call`` (the model call the reservation paid for) is stored in the same transaction.

        Raises:
            Conflict: the reservation was already settled (or never made).
        """
        async with self._tx() as tx:
            held = await tx.one("SELECT * FROM budget_reservations WHERE id = ?", (reservation.id,))
            if held is None:
                raise Conflict(f"reservation {reservation.id} is not held", reservation_id=reservation.id)
            await tx.run("DELETE FROM budget_reservations WHERE id = ?", (reservation.id,))
            ids: list[str] = list(reservation.scope_ids)
            await tx.run(
                "UPDATE budget_scopes SET reserved_tokens = MAX(reserved_tokens - ?, 0), "
                "reserved_usd = MAX(reserved_usd - ?, 0), used_tokens = used_tokens + ?, used_usd = used_usd + ? "
                f"WHERE id IN ({marks(ids)})",
                (held["tokens"], held["usd"], tokens, usd, *ids),
            )
            scopes = {s.id: s for s in await _scopes(tx, f"id IN ({marks(ids)})", ids)}
            crossings: list[Event] = []
            for scope in scopes.values():
                for threshold, dimension in new_crossings(
                    scope.limits,
                    used_tokens=scope.used_tokens,
                    used_usd=scope.used_usd,
                    already=scope.thresholds_crossed,
                ):
                    crossings.append(await _record_crossing(tx, scope, threshold, dimension))
            await tx.append_events(held["run_id"], [*events, *crossings])
            if call is not None:
                await tx.insert("llm_calls", dataclasses.asdict(call))
            updated = {s.id: s for s in await _scopes(tx, f"id IN ({marks(ids)})", ids)}
        return [updated[i] for i in ids]

    async def budget_events(self, run_id: str) -> list[BudgetEventRecord]:
        """Threshold crossings of a run, oldest first."""
        async with self._tx(write=False) as tx:
            rows = await tx.all(
                "SELECT * FROM budget_events WHERE run_id = ? ORDER BY created_at, id", (run_id,)
            )
        return [to_record(BudgetEventRecord, r) for r in rows]


async def _record_crossing(tx: Tx, scope: BudgetScopeRecord, threshold: int, dimension: str) -> Event:
    """Store one crossing (unique per scope and threshold) and return its ledger event."""
    await tx.insert(
        "budget_events",
        {
            "id": new_id(),
            "run_id": scope.run_id,
            "scope_id": scope.id,
            "threshold": threshold,
            "dimension": dimension,
            "created_at": tx.now,
        },
    )
    return Event(
        type="budget.threshold",
        phase=scope.name if scope.kind == "phase" else None,
        payload={
            "scope_id": scope.id,
            "kind": scope.kind,
            "name": scope.name,
            "threshold": threshold,
            "dimension": dimension,
        },
    )
