"""Runs and their phase executions (SQLite)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ideamine.enums import (
    PHASE_TRANSITIONS,
    RUN_TRANSITIONS,
    TERMINAL_RUN_STATUSES,
    GateDecision,
    PhaseStatus,
    RunStatus,
)
from ideamine.errors import Conflict, NotFound, StaleAttempt
from ideamine.ids import new_id
from ideamine.store._shared import (
    check_status,
    decode_page_token,
    encode_page_token,
    limits_from_row,
    limits_params,
    to_record,
)
from ideamine.store.records import (
    BudgetLimits,
    Event,
    NewRun,
    Page,
    PhaseExecutionRecord,
    RunRecord,
)
from ideamine.store.sqlite._base import SqliteBase, Tx, where
from ideamine.store.sqlite.budgets import insert_scope

__all__ = ["RunsMixin"]

#: phase statuses after which an attempt is over (FAILED may still be re-opened)
_PHASE_CLOSED = frozenset(
    {PhaseStatus.SUCCEEDED, PhaseStatus.WAIVED, PhaseStatus.FAILED, PhaseStatus.CANCELLED}
)
_MAX_PAGE = 1000


def run_record(row: dict[str, Any]) -> RunRecord:
    """A ``runs`` row as a :class:`RunRecord`."""
    return to_record(RunRecord, row, budget=limits_from_row(row, "budget"))


class RunsMixin(SqliteBase):
    """Runs: create, read, page, guarded transitions, budget changes; phase executions."""

    async def create_run(self, run: NewRun, *, events: Sequence[Event] = ()) -> RunRecord:
        """Insert a run (PENDING), its run budget scope and ``events`` in one transaction."""
        run_id = new_id()
        async with self._tx() as tx:
            tokens, usd, wall = limits_params(run.budget)
            await tx.insert(
                "runs",
                {
                    "id": run_id,
                    "tenant": run.tenant,
                    "title": run.title,
                    "idea": run.idea,
                    "phases": list(run.phases),
                    "budget_tokens": tokens,
                    "budget_usd": usd,
                    "budget_wall_clock_seconds": wall,
                    "policy": run.policy,
                    "status": RunStatus.PENDING,
                    "status_reason": "",
                    "created_by": run.created_by,
                    "labels": run.labels,
                    "created_at": tx.now,
                    "updated_at": tx.now,
                },
            )
            await insert_scope(tx, run_id, kind="run", name="", limits=run.budget, parent_id=None)
            await tx.append_events(run_id, events)
            row = await tx.get("runs", run_id, what="run")
        return run_record(row)

    async def get_run(self, run_id: str, *, tenant: str | None = None) -> RunRecord:
        """The run; another tenant's run is reported exactly like a missing one."""
        async with self._tx(write=False) as tx:
            row = await tx.one("SELECT * FROM runs WHERE id = ?", (run_id,))
        if row is None or (tenant is not None and row["tenant"] != tenant):
            raise NotFound(f"run {run_id} not found", run_id=run_id)
        return run_record(row)

    async def list_runs(
        self,
        *,
        tenant: str | None = None,
        statuses: Sequence[RunStatus] = (),
        page_size: int = 50,
        page_token: str = "",
    ) -> Page:
        """Runs newest first (ids are time-ordered), paged by the last id seen."""
        size = max(1, min(page_size, _MAX_PAGE))
        cond, params = where(
            {"tenant": tenant, "status": list(statuses), "id <": decode_page_token(page_token)}
        )
        async with self._tx(write=False) as tx:
            rows = await tx.all(
                f"SELECT * FROM runs WHERE {cond} ORDER BY id DESC LIMIT ?",
                [*params, size + 1],
            )
        items = [run_record(r) for r in rows[:size]]
        token = encode_page_token(items[-1].id) if len(rows) > size else ""
        return Page(items=items, next_token=token)

    async def transition_run(
        self,
        run_id: str,
        *,
        expected: Sequence[RunStatus],
        new: RunStatus,
        reason: str = "",
        events: Sequence[Event] = (),
        fence: tuple[str, int] | None = None,
    ) -> RunRecord:
        """Guarded status change, optionally fenced by the run lease; nothing written on refusal."""
        async with self._tx() as tx:
            row = await tx.get("runs", run_id, what="run")
            if fence is not None:
                await _check_fence(tx, run_id, fence)
            check_status(RUN_TRANSITIONS, RunStatus(row["status"]), new, expected, what="run", ident=run_id)
            values = {
                "status": new,
                "status_reason": reason,
                "finished_at": tx.now if new in TERMINAL_RUN_STATUSES else None,
            }
            return await _update_run(tx, run_id, values, events)

    async def update_run_budget(
        self, run_id: str, budget: BudgetLimits, *, events: Sequence[Event] = ()
    ) -> RunRecord:
        """Replace the run's limits and its run scope's limits together."""
        tokens, usd, wall = limits_params(budget)
        async with self._tx() as tx:
            await tx.get("runs", run_id, what="run")
            await tx.update(
                "budget_scopes",
                {"limit_tokens": tokens, "limit_usd": usd, "limit_wall_clock_seconds": wall},
                "run_id = ? AND kind = 'run'",
                (run_id,),
            )
            values = {"budget_tokens": tokens, "budget_usd": usd, "budget_wall_clock_seconds": wall}
            return await _update_run(tx, run_id, values, events)

    # ------------------------------------------------------------------ phases
    async def upsert_phase_execution(
        self,
        run_id: str,
        phase: str,
        *,
        expected: Sequence[PhaseStatus] | None,
        status: PhaseStatus,
        attempt: int,
        plan_hash: str = "",
        score: float | None = None,
        decision: GateDecision | None = None,
        events: Sequence[Event] = (),
    ) -> PhaseExecutionRecord:
        """Create (``expected=None``) or guardedly update a phase execution.

        An update may keep the status (e.g. RUNNING with a new attempt or plan hash);
        ``plan_hash``, ``score`` and ``decision`` are only overwritten when given.
        """
        async with self._tx() as tx:
            await tx.get("runs", run_id, what="run")
            sql = "SELECT * FROM phase_executions WHERE run_id = ? AND phase = ?"
            row = await tx.one(sql, (run_id, phase))
            ident = f"{run_id}/{phase}"
            values: dict[str, Any] = {"status": status, "attempt": attempt, "updated_at": tx.now}
            values.update({"plan_hash": plan_hash} if plan_hash else {})
            values.update({"score": score} if score is not None else {})
            values.update({"decision": decision} if decision is not None else {})
            if expected is None:
                if row is not None:
                    raise Conflict(f"phase execution {ident} already exists", run_id=run_id, phase=phase)
                await tx.insert(
                    "phase_executions",
                    {
                        "id": new_id(),
                        "run_id": run_id,
                        "phase": phase,
                        **values,
                        "started_at": tx.now if status == PhaseStatus.RUNNING else None,
                        "finished_at": tx.now if status in _PHASE_CLOSED else None,
                        "created_at": tx.now,
                    },
                )
            else:
                if row is None:
                    raise NotFound(f"phase execution {ident} not found", run_id=run_id, phase=phase)
                current = PhaseStatus(row["status"])
                check_status(
                    PHASE_TRANSITIONS, current, status, expected, what="phase", ident=ident, allow_same=True
                )
                if status == PhaseStatus.RUNNING:
                    values["started_at"] = row["started_at"] or tx.now
                values["finished_at"] = tx.now if status in _PHASE_CLOSED else None
                await tx.update("phase_executions", values, "id = ?", (row["id"],))
            await tx.append_events(run_id, events)
            row = await tx.one(sql, (run_id, phase))
        return to_record(PhaseExecutionRecord, row or {})

    async def list_phase_executions(self, run_id: str) -> list[PhaseExecutionRecord]:
        """Phase executions of a run in the order they were created."""
        async with self._tx(write=False) as tx:
            rows = await tx.all(
                "SELECT * FROM phase_executions WHERE run_id = ? ORDER BY created_at, id", (run_id,)
            )
        return [to_record(PhaseExecutionRecord, r) for r in rows]

    async def get_phase_execution(self, run_id: str, phase: str) -> PhaseExecutionRecord:
        """One phase execution; NotFound when missing."""
        async with self._tx(write=False) as tx:
            row = await tx.one(
                "SELECT * FROM phase_executions WHERE run_id = ? AND phase = ?", (run_id, phase)
            )
        if row is None:
            raise NotFound(f"phase execution {run_id}/{phase} not found", run_id=run_id, phase=phase)
        return to_record(PhaseExecutionRecord, row)


async def _update_run(tx: Tx, run_id: str, values: dict[str, Any], events: Sequence[Event]) -> RunRecord:
    """Write ``values`` (and updated_at) to the run, append ``events``, return the run."""
    await tx.update("runs", {**values, "updated_at": tx.now}, "id = ?", (run_id,))
    await tx.append_events(run_id, events)
    return run_record(await tx.get("runs", run_id, what="run"))


async def _check_fence(tx: Tx, run_id: str, fence: tuple[str, int]) -> None:
    """StaleAttempt unless ``fence`` names the run lease's current owner and fence."""
    owner, number = fence
    lease = await tx.one("SELECT owner, fence FROM run_leases WHERE run_id = ?", (run_id,))
    if lease is None or lease["owner"] != owner or int(lease["fence"]) != number:
        raise StaleAttempt(
            f"run {run_id} is not leased to {owner} with fence {number}",
            run_id=run_id,
            owner=owner,
            fence=number,
        )
