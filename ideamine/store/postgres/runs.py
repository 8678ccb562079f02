"""Runs, phase executions and run leases."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
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
from ideamine.ids import is_id, new_id
from ideamine.store._shared import (
    check_status,
    decode_page_token,
    encode_page_token,
    limits_from_row,
    limits_params,
    to_record,
    utcnow,
)
from ideamine.store.postgres.db import Conn, StoreBase
from ideamine.store.postgres.events import append_events
from ideamine.store.records import (
    BudgetLimits,
    Event,
    LeaseRecord,
    NewRun,
    Page,
    PhaseExecutionRecord,
    RunRecord,
)

__all__ = ["RunsMixin", "run_record", "require_id"]

_TERMINAL_RUN = [s.value for s in TERMINAL_RUN_STATUSES]
_TERMINAL_PHASE = [
    PhaseStatus.SUCCEEDED.value,
    PhaseStatus.WAIVED.value,
    PhaseStatus.FAILED.value,
    "CANCELLED",
]


def require_id(value: str, what: str) -> str:
    """A malformed id names nothing that exists: NotFound (and no SQL cast error)."""
    if not is_id(value):
        raise NotFound(f"{what} {value!r} not found", id=value)
    return value


def run_record(row: Any) -> RunRecord:
    """A ``runs`` row as a record."""
    return to_record(RunRecord, row, budget=limits_from_row(row, "budget"))


class RunsMixin(StoreBase):
    """Runs, phase executions and leases of :class:`PostgresRunStore`."""

    # ------------------------------------------------------------------- runs
    async def create_run(self, run: NewRun, *, events: Sequence[Event] = ()) -> RunRecord:
        """Insert a run (status PENDING), its run budget scope, and ``events``."""
        run_id, now = new_id(), utcnow()

        async def tx(conn: Conn) -> Any:
            row = await conn.fetchrow(
                """INSERT INTO runs (id, tenant, title, idea, phases, budget_tokens, budget_usd,
                       budget_wall_clock_seconds, policy, status, created_by, labels, created_at, updated_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'PENDING', $10, $11, $12, $12) RETURNING *""",
                run_id,
                run.tenant,
                run.title,
                run.idea,
                list(run.phases),
                *limits_params(run.budget),
                run.policy.value,
                run.created_by,
                run.labels,
                now,
            )
            await conn.execute(
                """INSERT INTO budget_scopes (id, run_id, kind, name, limit_tokens, limit_usd,
                       limit_wall_clock_seconds, created_at) VALUES ($1, $2, 'run', '', $3, $4, $5, $6)""",
                new_id(),
                run_id,
                *limits_params(run.budget),
                now,
            )
            await conn.execute("INSERT INTO ledger_heads (run_id) VALUES ($1)", run_id)
            await append_events(conn, run_id, events, now)
            return row

        return run_record(await self._db.transaction(tx))

    async def get_run(self, run_id: str, *, tenant: str | None = None) -> RunRecord:
        """The run; NotFound when missing or (with ``tenant``) owned by another tenant."""
        require_id(run_id, "run")
        row = await self._db.fetchrow("SELECT * FROM runs WHERE id = $1", run_id)
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
        """Runs newest first; the page token is the last id of the previous page."""
        after = decode_page_token(page_token)
        size = max(1, min(page_size, 1000))
        rows = await self._db.fetch(
            """SELECT * FROM runs
               WHERE ($1::text IS NULL OR tenant = $1)
                 AND (cardinality($2::text[]) = 0 OR status = ANY($2))
                 AND ($3::uuid IS NULL OR id < $3)
               ORDER BY id DESC LIMIT $4""",
            tenant,
            [s.value for s in statuses],
            after if after is None or is_id(after) else None,
            size + 1,
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
        """Guarded status change; ``fence=(owner, fence)`` also requires the run lease."""
        require_id(run_id, "run")
        now = utcnow()

        async def tx(conn: Conn) -> Any:
            row = await conn.fetchrow("SELECT * FROM runs WHERE id = $1 FOR NO KEY UPDATE", run_id)
            if row is None:
                raise NotFound(f"run {run_id} not found", run_id=run_id)
            check_status(RUN_TRANSITIONS, RunStatus(row["status"]), new, expected, what="run", ident=run_id)
            if fence is not None:
                await _check_fence(conn, run_id, fence)
            updated = await conn.fetchrow(
                """UPDATE runs SET status = $2, status_reason = $3, updated_at = $4,
                       finished_at = CASE WHEN $2 = ANY($5::text[]) THEN $4 ELSE finished_at END
                   WHERE id = $1 RETURNING *""",
                run_id,
                new.value,
                reason,
                now,
                _TERMINAL_RUN,
            )
            await append_events(conn, run_id, events, now)
            return updated

        return run_record(await self._db.transaction(tx))

    async def update_run_budget(
        self, run_id: str, budget: BudgetLimits, *, events: Sequence[Event] = ()
    ) -> RunRecord:
        """Replace the run's budget limits and its run-scope limits."""
        require_id(run_id, "run")
        now = utcnow()

        async def tx(conn: Conn) -> Any:
            row = await conn.fetchrow(
                """UPDATE runs SET budget_tokens = $2, budget_usd = $3, budget_wall_clock_seconds = $4,
                       updated_at = $5 WHERE id = $1 RETURNING *""",
                run_id,
                *limits_params(budget),
                now,
            )
            if row is None:
                raise NotFound(f"run {run_id} not found", run_id=run_id)
            await conn.execute(
                """UPDATE budget_scopes SET limit_tokens = $2, limit_usd = $3, limit_wall_clock_seconds = $4
                   WHERE run_id = $1 AND kind = 'run'""",
                run_id,
                *limits_params(budget),
            )
            await append_events(conn, run_id, events, now)
            return row

        return run_record(await self._db.transaction(tx))

    # ----------------------------------------------------------------- phases
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
        """Create (``expected=None``: must not exist) or guardedly update a phase execution."""
        require_id(run_id, "run")
        now = utcnow()
        dec = None if decision is None else decision.value
        #: the parameters both statements share ($2… of the INSERT, $1… of the UPDATE)
        values = (run_id, phase, status.value, attempt, plan_hash, score, dec, now, _TERMINAL_PHASE)

        async def tx(conn: Conn) -> Any:
            if expected is None:
                row = await conn.fetchrow(
                    """INSERT INTO phase_executions (id, run_id, phase, status, attempt, plan_hash, score,
                           decision, started_at, finished_at, created_at, updated_at)
                       SELECT $1, $2, $3, $4, $5, $6, $7, $8,
                              CASE WHEN $4::text = 'PENDING' THEN NULL ELSE $9::timestamptz END,
                              CASE WHEN $4 = ANY($10::text[]) THEN $9 END, $9, $9
                       WHERE EXISTS (SELECT 1 FROM runs WHERE id = $2)
                       ON CONFLICT (run_id, phase) DO NOTHING RETURNING *""",
                    new_id(),
                    *values,
                )
                if row is None:
                    await self._phase_missing_or_exists(conn, run_id, phase)
            else:
                cur = await conn.fetchrow(
                    "SELECT status FROM phase_executions WHERE run_id = $1 AND phase = $2 FOR UPDATE",
                    run_id,
                    phase,
                )
                if cur is None:
                    raise NotFound(f"phase {phase} of run {run_id} not found", run_id=run_id, phase=phase)
                ident = f"{run_id}/{phase}"
                check_status(
                    PHASE_TRANSITIONS,
                    PhaseStatus(cur["status"]),
                    status,
                    expected,
                    what="phase",
                    ident=ident,
                    allow_same=True,
                )
                row = await conn.fetchrow(
                    """UPDATE phase_executions SET status = $3, attempt = $4,
                           plan_hash = CASE WHEN $5 = '' THEN plan_hash ELSE $5 END,
                           score = COALESCE($6, score), decision = COALESCE($7, decision),
                           started_at = CASE WHEN $3 = 'PENDING' THEN started_at ELSE COALESCE(started_at, $8) END,
                           finished_at = CASE WHEN $3 = ANY($9::text[]) THEN $8 END,
                           updated_at = $8
                       WHERE run_id = $1 AND phase = $2 RETURNING *""",
                    *values,
                )
            await append_events(conn, run_id, events, now)
            return row

        return to_record(PhaseExecutionRecord, await self._db.transaction(tx))

    @staticmethod
    async def _phase_missing_or_exists(conn: Conn, run_id: str, phase: str) -> None:
        if await conn.fetchval("SELECT 1 FROM runs WHERE id = $1", run_id) is None:
            raise NotFound(f"run {run_id} not found", run_id=run_id)
        raise Conflict(f"phase {phase} of run {run_id} already exists", run_id=run_id, phase=phase)

    async def list_phase_executions(self, run_id: str) -> list[PhaseExecutionRecord]:
        """Phase executions of a run in order of creation."""
        require_id(run_id, "run")
        rows = await self._db.fetch("SELECT * FROM phase_executions WHERE run_id = $1 ORDER BY id", run_id)
        return [to_record(PhaseExecutionRecord, r) for r in rows]

    async def get_phase_execution(self, run_id: str, phase: str) -> PhaseExecutionRecord:
        """One phase execution; NotFound when missing."""
        require_id(run_id, "run")
        row = await self._db.fetchrow(
            "SELECT * FROM phase_executions WHERE run_id = $1 AND phase = $2", run_id, phase
        )
        if row is None:
            raise NotFound(f"phase {phase} of run {run_id} not found", run_id=run_id, phase=phase)
        return to_record(PhaseExecutionRecord, row)

    # ----------------------------------------------------------------- leases
    async def acquire_lease(self, run_id: str, *, owner: str, ttl_seconds: float) -> LeaseRecord | None:
        """Take the run if unowned or expired (fence + 1), or renew if ``owner`` holds it."""
        require_id(run_id, "run")
        now = utcnow()

        async def tx(conn: Conn) -> Any:
            if await conn.fetchval("SELECT 1 FROM runs WHERE id = $1", run_id) is None:
                raise NotFound(f"run {run_id} not found", run_id=run_id)
            return await conn.fetchrow(
                """INSERT INTO run_leases AS l (run_id, owner, fence, expires_at) VALUES ($1, $2, 1, $3)
                   ON CONFLICT (run_id) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at,
                       fence = CASE WHEN l.owner = EXCLUDED.owner THEN l.fence ELSE l.fence + 1 END
                   WHERE l.owner = EXCLUDED.owner OR l.expires_at <= $4
                   RETURNING *""",
                run_id,
                owner,
                now + timedelta(seconds=ttl_seconds),
                now,
            )

        row = await self._db.transaction(tx)
        return None if row is None else to_record(LeaseRecord, row)

    async def renew_leases(
        self, run_ids: Sequence[str], *, owner: str, ttl_seconds: float
    ) -> dict[str, LeaseRecord]:
        """Extend ``owner``'s leases among ``run_ids`` in one statement (see the protocol)."""
        wanted = [r for r in dict.fromkeys(run_ids) if is_id(r)]  # a malformed id names no lease
        if not wanted:
            return {}
        expires = utcnow() + timedelta(seconds=ttl_seconds)
        rows = await self._db.statement(
            lambda conn: conn.fetch(
                "UPDATE run_leases SET expires_at = $3 WHERE run_id = ANY($1::uuid[]) AND owner = $2 RETURNING *",
                wanted,
                owner,
                expires,
            )
        )
        return {str(r["run_id"]): to_record(LeaseRecord, r) for r in rows}

    async def release_lease(self, run_id: str, *, owner: str) -> None:
        """Give the run up; the row stays so the next owner (even this one again) gets fence + 1."""
        require_id(run_id, "run")
        await self._db.transaction(
            lambda conn: conn.execute(
                "UPDATE run_leases SET owner = '', expires_at = $3 WHERE run_id = $1 AND owner = $2",
                run_id,
                owner,
                utcnow(),
            )
        )

    async def runs_needing_owner(self, *, limit: int = 100) -> list[str]:
        """Non-terminal runs whose lease is missing or expired, oldest first."""
        rows = await self._db.fetch(
            """SELECT r.id FROM runs r LEFT JOIN run_leases l ON l.run_id = r.id
               WHERE r.status <> ALL($1::text[]) AND (l.run_id IS NULL OR l.expires_at <= $2)
               ORDER BY r.id LIMIT $3""",
            _TERMINAL_RUN,
            utcnow(),
            limit,
        )
        return [r["id"] for r in rows]


async def _check_fence(conn: Conn, run_id: str, fence: tuple[str, int]) -> None:
    owner, number = fence
    row = await conn.fetchrow("SELECT owner, fence FROM run_leases WHERE run_id = $1", run_id)
    if row is None or row["owner"] != owner or row["fence"] != number:
        raise StaleAttempt(
            f"run {run_id} is not leased to {owner} with fence {number}",
            run_id=run_id,
            owner=owner,
            fence=number,
        )
