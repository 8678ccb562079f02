"""A lost connection surfaces as StoreUnavailable, and nothing is half-written.

The connection is killed *inside* a transaction: an admin session holds a lock on the
run's row, so ``commit_task_result`` completes its first statement (task status, result,
ledger head) and then waits in its second; the test terminates exactly that backend with
``pg_terminate_backend`` and checks the database holds none of the partial writes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg  # type: ignore[import-untyped]
import pytest

from ideamine.enums import TaskStatus
from ideamine.errors import StoreUnavailable
from ideamine.ids import new_id
from ideamine.store.postgres import PostgresRunStore
from ideamine.store.records import BudgetLimits, Event, NewArtifact, NewRun, NewTask, TaskRecord
from tests.polling import eventually

pytestmark = pytest.mark.postgres


@pytest.fixture
async def store(migrated_db: str) -> AsyncIterator[PostgresRunStore]:
    s = PostgresRunStore(migrated_db, min_size=1, max_size=2)
    await s.open()
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def admin(migrated_db: str) -> AsyncIterator[asyncpg.Connection]:
    c = await asyncpg.connect(migrated_db)
    try:
        yield c
    finally:
        await c.close()


async def _running_task(store: PostgresRunStore) -> TaskRecord:
    run = await store.create_run(
        NewRun(tenant="t", title="x", idea={"text": "x"}, phases=("intake",), budget=BudgetLimits()),
        events=[Event("run.created")],
    )
    [task] = await store.create_tasks(
        [NewTask(run.id, "intake", "intake", "intake-agent", "1", f"idem-{new_id()}", {})]
    )
    return await store.start_task(task.id, attempt=1, worker="w1", lease_seconds=30)


async def _counts(admin: asyncpg.Connection, task: TaskRecord) -> dict[str, object]:
    return {
        "status": await admin.fetchval("SELECT status FROM tasks WHERE id = $1::uuid", task.id),
        "results": await admin.fetchval(
            "SELECT count(*) FROM task_results WHERE task_id = $1::uuid", task.id
        ),
        "artifacts": await admin.fetchval("SELECT count(*) FROM artifacts WHERE task_id = $1::uuid", task.id),
        "notices": await admin.fetchval("SELECT count(*) FROM outbox WHERE topic = 'notices'"),
        "ledger": await admin.fetchval("SELECT count(*) FROM ledger WHERE run_id = $1::uuid", task.run_id),
    }


async def test_killed_mid_transaction_raises_store_unavailable_and_writes_nothing(
    store: PostgresRunStore, admin: asyncpg.Connection, migrated_db: str
) -> None:
    task = await _running_task(store)
    before = await _counts(admin, task)
    assert before["status"] == TaskStatus.RUNNING.value

    # Lock the run row: the commit's first statement (fence task, insert result, advance the
    # ledger head) goes through, its second (artifacts, ledger rows, notice) waits on the
    # foreign-key check against the run — the connection is killed between the two.
    blocker = await asyncpg.connect(migrated_db)
    try:
        await blocker.execute("BEGIN")
        await blocker.execute("SELECT 1 FROM runs WHERE id = $1::uuid FOR UPDATE", task.run_id)
        commit = asyncio.create_task(
            store.commit_task_result(
                task.id,
                attempt=1,
                output={"ok": True},
                artifacts=[NewArtifact("idea_spec", {"title": "x"}, "offline")],
                events=[Event("task.succeeded", task_id=task.id)],
                notice={"task_id": task.id},
            )
        )

        async def waiting_backend() -> int | None:
            # polled outside the blocker's transaction: pg_stat_activity is a per-transaction snapshot
            pid: int | None = await admin.fetchval(
                """SELECT pid FROM pg_stat_activity
                   WHERE application_name = 'ideamine-store' AND wait_event_type = 'Lock'
                     AND query LIKE '%INSERT INTO artifacts%'"""
            )
            return pid

        pid = await eventually(waiting_backend, what="the commit to block in its second statement")
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        with pytest.raises(StoreUnavailable):
            await commit
    finally:
        await blocker.close()  # ends its transaction, releasing the run row

    assert await _counts(admin, task) == before  # no result, artifact, notice, event or status change

    # the pool replaces the dead connection: the same commit now succeeds, exactly once
    result = await store.commit_task_result(task.id, attempt=1, output={"ok": True}, artifacts=[])
    assert result.task_id == task.id
    assert (await store.get_task(task.id)).status == TaskStatus.SUCCEEDED
    assert (await store.verify_ledger(task.run_id)).ok


async def test_terminated_idle_connections_surface_only_as_store_unavailable(
    store: PostgresRunStore, admin: asyncpg.Connection
) -> None:
    """Idle pooled connections killed by the server: a caller sees the task or StoreUnavailable, never a raw driver error.

    Whether the first call after the kill fails depends on whether asyncpg noticed the
    closed socket before handing the connection out (it then reconnects silently), so
    both outcomes are allowed; what may never happen is any other exception, or a
    store that does not recover.
    """
    task = await _running_task(store)
    db = await admin.fetchval("SELECT current_database()")
    pids = await admin.fetch(
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'ideamine-store' AND datname = $1",
        db,  # the admin connection is on the store's own database
    )
    assert pids, "the store holds no pooled connection to kill"
    for row in pids:
        await admin.fetchval("SELECT pg_terminate_backend($1)", row["pid"])

    async def gone() -> bool:
        return not await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])", [r["pid"] for r in pids]
        )

    assert await eventually(gone, what="the killed backends to exit")
    try:
        again = await store.get_task(task.id)
        assert again.id == task.id
    except StoreUnavailable:
        pass
    # the broken connections were discarded; the store recovers without being reopened
    assert await eventually(store.ping, what="the pool to reconnect")
    assert (await store.get_task(task.id)).id == task.id


async def test_closed_store_raises_store_unavailable(store: PostgresRunStore) -> None:
    task = await _running_task(store)
    await store.close()
    with pytest.raises(StoreUnavailable):
        await store.get_task(task.id)
    assert await store.ping() is False
