"""Concurrent ``start_task_with_events`` calls on PostgreSQL share a transaction; refusals stay per call."""

from __future__ import annotations

import asyncio

import pytest

from ideamine.enums import TaskStatus
from ideamine.errors import Conflict, IdeaMineError, StaleAttempt
from ideamine.ids import new_id
from ideamine.store.postgres import PostgresRunStore
from ideamine.store.records import Event, NewTask, TaskRecord
from tests.store_pg.conftest import new_runs

pytestmark = pytest.mark.postgres


async def _queued(store: PostgresRunStore, n: int, runs: int) -> list[TaskRecord]:
    run_ids = await new_runs(store, runs)
    return await store.create_tasks(
        [NewTask(run_ids[i % runs], "intake", f"k{i}", "a", "1", f"idem-{new_id()}", {}) for i in range(n)]
    )


async def _start(store: PostgresRunStore, t: TaskRecord, attempt: int = 1) -> TaskRecord | IdeaMineError:
    try:
        return await store.start_task_with_events(
            t.id,
            attempt=attempt,
            worker="w",
            lease_seconds=30,
            events=[Event("task.started", {"attempt": attempt}, phase=t.phase, task_id=t.id)],
        )
    except IdeaMineError as exc:
        return exc


async def test_concurrent_starts_share_a_transaction_and_chain_every_event(store: PostgresRunStore) -> None:
    tasks = await _queued(store, 24, runs=3)
    started = await asyncio.gather(*(_start(store, t) for t in tasks))
    assert all(isinstance(s, TaskRecord) and s.status is TaskStatus.RUNNING for s in started), started
    assert [s.id for s in started if isinstance(s, TaskRecord)] == [t.id for t in tasks]
    # one transaction, one start time (the first call may run alone before the rest arrive)
    assert len({s.started_at for s in started if isinstance(s, TaskRecord)}) <= 2
    for run_id in {t.run_id for t in tasks}:
        assert (await store.verify_ledger(run_id)).ok
        events = [e for e in await store.list_events(run_id) if e.type == "task.started"]
        assert len(events) == 8


async def test_a_refused_start_gets_its_own_error_and_the_others_start(store: PostgresRunStore) -> None:
    tasks = await _queued(store, 6, runs=2)
    stale, twice, *rest = tasks
    started = await asyncio.gather(
        _start(store, stale, attempt=3),
        _start(store, twice),
        _start(store, twice),
        *(_start(store, t) for t in rest),
    )
    assert isinstance(started[0], StaleAttempt)
    # two deliveries of one task: one starts it, the other learns someone holds it
    assert sorted(type(s).__name__ for s in started[1:3]) == ["Conflict", "TaskRecord"]
    assert isinstance(next(s for s in started[1:3] if not isinstance(s, TaskRecord)), Conflict)
    assert all(isinstance(s, TaskRecord) for s in started[3:])
    assert (await store.get_task(stale.id)).status is TaskStatus.QUEUED
    started_events = 0
    for run_id in {t.run_id for t in tasks}:
        assert (await store.verify_ledger(run_id)).ok
        started_events += len([e for e in await store.list_events(run_id) if e.type == "task.started"])
    assert started_events == 5  # every task but the stale one, once
