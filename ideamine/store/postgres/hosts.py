"""Process-level records that outlive a run: model calls and agent hosts."""

from __future__ import annotations

import dataclasses

import asyncpg  # type: ignore[import-untyped]  # no stubs installed (asyncpg-stubs would fix)

from ideamine.errors import InvalidInput, NotFound
from ideamine.store._shared import RUN_USAGE_SQL, to_record, usage_from_row, utcnow
from ideamine.store.postgres.db import Conn, StoreBase
from ideamine.store.postgres.runs import require_id
from ideamine.store.records import AgentHostRecord, LLMCallRecord, UsageTotals

__all__ = ["HostsMixin", "insert_llm_call"]

_HOST_COLUMNS = [f.name for f in dataclasses.fields(AgentHostRecord)]
_CALL_COLUMNS = [f.name for f in dataclasses.fields(LLMCallRecord)]


def _insert_sql(table: str, columns: list[str], conflict: str = "") -> str:
    marks = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) {conflict} RETURNING *"


_UPSERT_HOST = _insert_sql(
    "agent_hosts",
    _HOST_COLUMNS,
    "ON CONFLICT (id) DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in _HOST_COLUMNS if c != "id"),
)
_INSERT_CALL = _insert_sql("llm_calls", _CALL_COLUMNS)
_RUN_USAGE = RUN_USAGE_SQL.format(mark="$1")


async def insert_llm_call(conn: Conn, call: LLMCallRecord) -> None:
    """Store one model call's row inside the caller's transaction."""
    values = dataclasses.asdict(call)
    try:
        await conn.execute(_INSERT_CALL, *(values[c] for c in _CALL_COLUMNS))
    except asyncpg.CheckViolationError as exc:
        raise InvalidInput(f"unknown llm call status {call.status!r}", field="status") from exc


class HostsMixin(StoreBase):
    """LLM call accounting and the agent-host registry."""

    async def record_llm_call(self, call: LLMCallRecord) -> None:
        """Store one model call's usage and cost."""
        await self._db.transaction(lambda conn: insert_llm_call(conn, call))

    async def run_usage(self, run_id: str) -> UsageTotals:
        """The run's model calls summed, in one row (zeros when none, or for a malformed id)."""
        if not _valid(run_id, "run"):
            return UsageTotals()
        return usage_from_row(await self._db.fetchrow(_RUN_USAGE, run_id))

    async def list_llm_calls(
        self, *, run_id: str | None = None, task_id: str | None = None
    ) -> list[LLMCallRecord]:
        """Model calls, oldest first, optionally of one run and/or task."""
        for ident, what in ((run_id, "run"), (task_id, "task")):
            if ident is not None and not _valid(ident, what):
                return []
        rows = await self._db.fetch(
            """SELECT * FROM llm_calls WHERE ($1::uuid IS NULL OR run_id = $1) AND ($2::uuid IS NULL OR task_id = $2)
               ORDER BY created_at, id""",
            run_id,
            task_id,
        )
        return [to_record(LLMCallRecord, r) for r in rows]

    async def register_host(self, host: AgentHostRecord) -> AgentHostRecord:
        """Insert or replace a host registration (keyed by id)."""
        values = dataclasses.asdict(host)
        try:
            row = await self._db.transaction(
                lambda conn: conn.fetchrow(_UPSERT_HOST, *(values[c] for c in _HOST_COLUMNS))
            )
        except asyncpg.CheckViolationError as exc:
            raise InvalidInput(f"unknown host status {host.status!r}", field="status") from exc
        return to_record(AgentHostRecord, row)

    async def heartbeat_host(self, host_id: str, *, status: str) -> AgentHostRecord:
        """Touch a host's heartbeat and status; NotFound when unknown."""
        require_id(host_id, "agent host")
        try:
            row = await self._db.transaction(
                lambda conn: conn.fetchrow(
                    "UPDATE agent_hosts SET status = $2, last_heartbeat_at = $3 WHERE id = $1 RETURNING *",
                    host_id,
                    status,
                    utcnow(),
                )
            )
        except asyncpg.CheckViolationError as exc:
            raise InvalidInput(f"unknown host status {status!r}", field="status") from exc
        if row is None:
            raise NotFound(f"agent host {host_id} not found", host_id=host_id)
        return to_record(AgentHostRecord, row)

    async def list_hosts(self) -> list[AgentHostRecord]:
        """Registered hosts by name."""
        return [
            to_record(AgentHostRecord, r)
            for r in await self._db.fetch("SELECT * FROM agent_hosts ORDER BY name, id")
        ]


def _valid(ident: str, what: str) -> bool:
    try:
        require_id(ident, what)
    except NotFound:
        return False
    return True
