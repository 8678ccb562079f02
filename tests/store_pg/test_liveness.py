"""Worker liveness on PostgreSQL: a lock that ends with its session, and the sweep that acts on it."""

from __future__ import annotations

import asyncpg  # type: ignore[import-untyped]
import pytest

from ideamine.enums import TaskStatus
from ideamine.ids import new_id
from ideamine.store.postgres import PostgresRunStore
from ideamine.store.records import NewTask, TaskRecord
from orchestrator.lost_workers import LostWorkerSweeper
from tests.store_pg.conftest import new_runs

pytestmark = pytest.mark.postgres


async def _running(
    store: PostgresRunStore, worker: str, n: int = 1, *, max_deliveries: int = 5
) -> list[TaskRecord]:
    [run_id] = await new_runs(store, 1)
    tasks = await store.create_tasks(
        [
            NewTask(
                run_id, "intake", f"k{i}", "a", "1", f"idem-{new_id()}", {}, max_deliveries=max_deliveries
            )
            for i in range(n)
        ]
    )
    return [await store.start_task(t.id, attempt=1, worker=worker, lease_seconds=300) for t in tasks]


async def _liveness_backends(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = 'ideamine-liveness' AND datname = current_database()"
            )
        )
    finally:
        await conn.close()


async def test_a_workers_lock_is_held_by_its_session_only(store: PostgresRunStore, migrated_db: str) -> None:
    alive, gone = new_id(), new_id()
    [mine] = await _running(store, alive)
    await _running(store, gone, 2)
    assert await store.hold_worker_liveness(alive)
    assert await store.hold_worker_liveness(alive)  # a re-check keeps it
    assert await store.unheld_workers() == [gone]  # never took its lock
    assert [t.id for t in await store.running_tasks_of(alive)] == [mine.id]
    assert len(await store.running_tasks_of(gone)) == 2

    other = PostgresRunStore(migrated_db)  # another process of the same worker id
    await other.open()
    try:
        assert not await other.hold_worker_liveness(alive)
    finally:
        await other.close()

    # the session ends (a killed process, a database restart): the lock is free at once ...
    assert await _liveness_backends(migrated_db) == 1
    assert sorted(await store.unheld_workers()) == sorted([alive, gone])
    # ... and the next periodic check takes it again on a new session
    assert await store.hold_worker_liveness(alive)
    assert await store.unheld_workers() == [gone]
    await store.release_worker_liveness(alive)
    assert sorted(await store.unheld_workers()) == sorted([alive, gone])


async def test_the_sweep_hands_back_the_tasks_of_a_worker_whose_lock_stays_free(
    store: PostgresRunStore,
) -> None:
    alive, gone = new_id(), new_id()
    kept = await _running(store, alive, 2)
    moved = await _running(store, gone, 2)
    [last] = await _running(store, gone, max_deliveries=1)  # its only attempt: it ends DEAD
    await store.hold_worker_liveness(alive)
    now = [100.0]
    flushed: list[int] = []

    async def flush() -> None:
        flushed.append(1)

    sweeper = LostWorkerSweeper(store, after=5.0, flush_outbox=flush, clock=lambda: now[0])
    assert await sweeper.sweep() == 0  # free since now: not believed yet
    now[0] += 4.9
    assert await sweeper.sweep() == 0
    now[0] += 0.1
    assert await sweeper.sweep() == 3
    assert flushed == [1]

    for t in moved:
        after = await store.get_task(t.id)
        assert (after.status, after.attempt, after.worker) == (TaskStatus.QUEUED, 2, None)
        events = [e for e in await store.list_events(t.run_id) if e.task_id == t.id]
        assert events[-1].type == "task.stalled" and gone in events[-1].payload["reason"]
    assert (await store.get_task(last.id)).status is TaskStatus.DEAD
    assert [(await store.get_task(t.id)).status for t in kept] == [TaskStatus.RUNNING] * 2
    assert await sweeper.sweep() == 0 and flushed == [1]  # nothing of the gone worker is left


async def test_a_failed_look_forgets_what_it_saw(store: PostgresRunStore) -> None:
    gone = new_id()
    [task] = await _running(store, gone)
    now = [0.0]

    async def flush() -> None:
        return None

    sweeper = LostWorkerSweeper(store, after=5.0, flush_outbox=flush, clock=lambda: now[0])
    assert await sweeper.sweep() == 0
    await store.close()  # the database is out of reach for a while
    now[0] += 10.0
    with pytest.raises(Exception, match="not open"):
        await sweeper.sweep()
    await store.open()
    assert await sweeper.sweep() == 0  # seen free again only now: a new wait
    assert (await store.get_task(task.id)).status is TaskStatus.RUNNING
    now[0] += 5.0
    assert await sweeper.sweep() == 1
