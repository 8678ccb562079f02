"""Process-level records that outlive a run: model calls and agent hosts (SQLite)."""

from __future__ import annotations

import dataclasses

from ideamine.errors import InvalidInput
from ideamine.store._shared import RUN_USAGE_SQL, to_record, usage_from_row
from ideamine.store.records import AgentHostRecord, LLMCallRecord, TaskRecord, UsageTotals
from ideamine.store.sqlite._base import SqliteBase, where

__all__ = ["RegistryMixin"]

#: statuses an agent host may report
HOST_STATUSES = frozenset({"UP", "DRAINING", "DOWN"})


def _check_host_status(status: str) -> None:
    if status not in HOST_STATUSES:
        raise InvalidInput(f"unknown host status {status!r}", field="status")


class RegistryMixin(SqliteBase):
    """LLM call accounting and the agent-host registry."""

    async def record_llm_call(self, call: LLMCallRecord) -> None:
        """Store one model call's usage and cost."""
        async with self._tx() as tx:
            await tx.insert("llm_calls", dataclasses.asdict(call))

    async def list_llm_calls(
        self, *, run_id: str | None = None, task_id: str | None = None
    ) -> list[LLMCallRecord]:
        """Model calls, oldest first, optionally of one run and/or task."""
        cond, params = where({"run_id": run_id, "task_id": task_id})
        async with self._tx(write=False) as tx:
            rows = await tx.all(f"SELECT * FROM llm_calls WHERE {cond} ORDER BY created_at, id", params)
        return [to_record(LLMCallRecord, r) for r in rows]

    async def run_usage(self, run_id: str) -> UsageTotals:
        """The run's model calls summed, in one row (zeros when none)."""
        async with self._tx(write=False) as tx:
            row = await tx.one(RUN_USAGE_SQL.format(mark="?"), (run_id,))
        assert row is not None  # an aggregate always has its row
        return usage_from_row(row)

    async def register_host(self, host: AgentHostRecord) -> AgentHostRecord:
        """Insert or replace a host registration (keyed by id)."""
        _check_host_status(host.status)
        values = dataclasses.asdict(host)
        async with self._tx() as tx:
            await tx.run("DELETE FROM agent_hosts WHERE id = ?", (host.id,))
            await tx.insert("agent_hosts", values)
            return to_record(AgentHostRecord, await tx.get("agent_hosts", host.id, what="agent host"))

    async def heartbeat_host(self, host_id: str, *, status: str) -> AgentHostRecord:
        """Touch a host's heartbeat and status; NotFound when unknown."""
        _check_host_status(status)
        async with self._tx() as tx:
            await tx.get("agent_hosts", host_id, what="agent host")
            await tx.update(
                "agent_hosts", {"status": status, "last_heartbeat_at": tx.now}, "id = ?", (host_id,)
            )
            return to_record(AgentHostRecord, await tx.get("agent_hosts", host_id, what="agent host"))

    async def list_hosts(self) -> list[AgentHostRecord]:
        """Registered hosts by name."""
        async with self._tx(write=False) as tx:
            rows = await tx.all("SELECT * FROM agent_hosts ORDER BY name, id")
        return [to_record(AgentHostRecord, r) for r in rows]

    # One process owns a SQLite store, so there are no other workers to outlive: the
    # embedded runtime re-queues its RUNNING tasks when it starts again (and leases
    # remain the fallback everywhere). Liveness locks are therefore a no-op here.

    async def hold_worker_liveness(self, worker: str) -> bool:
        """Always held: the worker is this process."""
        return True

    async def release_worker_liveness(self, worker: str) -> None:
        """Nothing to release."""

    async def unheld_workers(self) -> list[str]:
        """None can be told apart here."""
        return []

    async def running_tasks_of(self, worker: str) -> list[TaskRecord]:
        """The RUNNING tasks ``worker`` holds, oldest first."""
        async with self._tx(write=False) as tx:
            rows = await tx.all(
                "SELECT * FROM tasks WHERE status = 'RUNNING' AND worker = ? ORDER BY created_at, id",
                (worker,),
            )
        return [to_record(TaskRecord, r) for r in rows]
