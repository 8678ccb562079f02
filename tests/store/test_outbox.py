"""Outbox claims (contract, both backends): each unpublished row goes to one relay at a time.

The relay protocol is claim → publish → mark_published (or release_outbox when the
publish failed); a claim that is never settled expires, so a crashed relay's rows are
published by another one.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from ideamine.store._shared import utcnow
from ideamine.store.base import RunStore
from ideamine.store.records import OutboxRecord, TaskRecord
from tests.store.conftest import Backend, make_run, new_task


async def _tasks(store: RunStore, n: int) -> list[TaskRecord]:
    run = await make_run(store)
    return await store.create_tasks([new_task(run.id, f"k{i}") for i in range(n)])


def _task_ids(rows: list[OutboxRecord]) -> list[str | None]:
    return [r.task_id for r in rows]


async def test_claim_takes_the_oldest_rows_and_marks_them_claimed(store: RunStore) -> None:
    tasks = await _tasks(store, 3)
    now = utcnow()
    rows = await store.claim_outbox("relay-a", limit=2, claim_seconds=30, now=now)
    assert _task_ids(rows) == [tasks[0].id, tasks[1].id]
    assert rows[0].id < rows[1].id
    assert {(r.claimed_by, r.claimed_until) for r in rows} == {("relay-a", now + timedelta(seconds=30))}
    peek = await store.fetch_outbox()  # a claim does not hide rows from a read-only look
    assert [(r.task_id, r.claimed_by) for r in peek] == [
        (tasks[0].id, "relay-a"),
        (tasks[1].id, "relay-a"),
        (tasks[2].id, None),
    ]


async def test_claimed_rows_go_to_no_one_else_until_the_claim_expires(store: RunStore) -> None:
    tasks = await _tasks(store, 3)
    now = utcnow()
    first = await store.claim_outbox("relay-a", limit=2, claim_seconds=10, now=now)
    second = await store.claim_outbox("relay-b", claim_seconds=10, now=now)
    assert _task_ids(second) == [tasks[2].id]  # disjoint
    assert await store.claim_outbox("relay-c", now=now + timedelta(seconds=9)) == []
    # relay-a never marks its rows (it crashed): once the claim lapses, another relay takes them
    later = await store.claim_outbox("relay-c", now=now + timedelta(seconds=10))
    assert [r.id for r in later] == [r.id for r in first] + [r.id for r in second]
    assert {r.claimed_by for r in later} == {"relay-c"}


async def test_an_owner_does_not_claim_its_own_live_rows_twice(store: RunStore) -> None:
    await _tasks(store, 2)
    assert len(await store.claim_outbox("relay-a")) == 2
    assert await store.claim_outbox("relay-a") == []  # two coroutines sharing a name stay disjoint


async def test_published_rows_are_never_claimed_again(store: RunStore) -> None:
    tasks = await _tasks(store, 2)
    rows = await store.claim_outbox("relay-a", limit=1)
    await store.mark_published([r.id for r in rows])
    far = utcnow() + timedelta(days=1)
    assert _task_ids(await store.claim_outbox("relay-b", now=far)) == [tasks[1].id]
    assert _task_ids(await store.fetch_outbox()) == [tasks[1].id]


async def test_release_gives_only_the_owners_unpublished_rows_back(store: RunStore) -> None:
    await _tasks(store, 3)
    rows = await store.claim_outbox("relay-a")
    ids = [r.id for r in rows]
    await store.mark_published(ids[:1])
    assert await store.release_outbox(ids, owner="relay-b") == 0  # not relay-b's claim
    assert await store.release_outbox([], owner="relay-a") == 0
    assert await store.release_outbox(ids, owner="relay-a") == 2  # the published row stays published
    again = await store.claim_outbox("relay-b")
    assert [r.id for r in again] == ids[1:]


async def test_claim_filters_by_topic(store: RunStore) -> None:
    [task] = await _tasks(store, 1)
    await store.start_task(task.id, attempt=1, worker="w", lease_seconds=60)
    await store.commit_task_result(
        task.id, attempt=1, output={}, artifacts=[], notice={"task_id": task.id, "status": "SUCCEEDED"}
    )
    [notice] = await store.claim_outbox("relay-a", topic="notices")
    assert notice.topic == "notices" and notice.payload["task_id"] == task.id
    [message] = await store.claim_outbox("relay-a")
    assert message.topic == "tasks"


async def test_concurrent_relays_on_two_connections_claim_each_row_once(backend: Backend) -> None:
    store = backend.store
    other = await backend.open_another()
    tasks = await _tasks(store, 30)

    async def relay(s: RunStore, name: str) -> list[str | None]:
        taken: list[str | None] = []
        while rows := await s.claim_outbox(name, limit=2):
            taken += _task_ids(rows)
            await s.mark_published([r.id for r in rows])
        return taken

    results = await asyncio.gather(*(relay(s, f"relay-{i}") for i, s in enumerate([store, other] * 2)))
    claimed = [t for r in results for t in r]
    assert sorted(claimed, key=str) == sorted((t.id for t in tasks), key=str)  # each exactly once
    assert await store.fetch_outbox() == []
