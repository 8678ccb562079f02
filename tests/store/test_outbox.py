"""Outbox claims (contract, both backends): each unpublished row goes to one relay at a time.

The relay protocol is claim → publish → mark_published (or release_outbox when the
publish failed); a claim that is never settled expires, so a crashed relay's rows are
published by another one. Rows a relay's own process writes are claimed for it as they
are inserted (keep_written_outbox / take_written_outbox).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from ideamine.errors import StaleAttempt
from ideamine.store._shared import utcnow
from ideamine.store.base import RunStore
from ideamine.store.records import Event, OutboxRecord, TaskRecord
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


# ----------------------------------------------------- rows a relay's own process writes
async def test_a_relays_own_writes_are_claimed_for_it_and_handed_over_after_commit(store: RunStore) -> None:
    before = await _tasks(store, 1)  # written before the relay asked: any relay claims it
    before_rows = await store.fetch_outbox()
    store.keep_written_outbox("relay-own", claim_seconds=30)
    tasks = await _tasks(store, 2)
    await store.start_task(tasks[0].id, attempt=1, worker="w", lease_seconds=60)
    await store.commit_task_result(
        tasks[0].id,
        attempt=1,
        output={},
        artifacts=[],
        notice={"task_id": tasks[0].id, "status": "SUCCEEDED"},
    )
    own = store.take_written_outbox()
    assert [(r.topic, r.task_id) for r in own] == [
        ("tasks", tasks[0].id),
        ("tasks", tasks[1].id),
        ("notices", tasks[0].id),
    ]
    assert all(r.claimed_by == "relay-own" and r.claimed_until is not None for r in own)
    assert own[2].payload == {"task_id": tasks[0].id, "status": "SUCCEEDED"}
    assert own[0].claimed_until - own[0].created_at == timedelta(seconds=30)  # type: ignore[operator]
    assert len(await store.fetch_outbox()) == 4  # unpublished, in the table like any row
    assert store.take_written_outbox() == []  # taken once
    # another relay leaves them alone while the claim lasts, but gets the older row
    assert _task_ids(await store.claim_outbox("relay-b")) == [before[0].id]
    later = utcnow() + timedelta(seconds=31)  # every claim lapsed: the owner died unpublished
    assert _task_ids(await store.claim_outbox("relay-b", now=later)) == _task_ids([*before_rows, *own])


async def test_a_transaction_that_fails_hands_over_no_rows(store: RunStore) -> None:
    store.keep_written_outbox("relay-own", claim_seconds=30)
    [task] = await _tasks(store, 1)
    await store.mark_published([r.id for r in store.take_written_outbox()])
    await store.start_task(task.id, attempt=1, worker="w", lease_seconds=60)
    with pytest.raises(StaleAttempt):  # fenced: nothing written, nothing to publish
        await store.commit_task_result(
            task.id, attempt=2, output={}, artifacts=[], notice={"task_id": task.id}
        )
    # the re-queue inserts its outbox row, then fails on an event it cannot hash: rolled back
    unhashable = Event("task.retried", {"why": object()}, phase="intake", task_id=task.id)
    with pytest.raises(TypeError):
        await store.requeue_task(task.id, attempt=1, reason="r", events=[unhashable])
    assert store.take_written_outbox() == []
    assert await store.fetch_outbox() == []
    assert (await store.get_task(task.id)).attempt == 1


async def test_rows_of_a_store_whose_relay_did_not_ask_are_not_kept(backend: Backend) -> None:
    other = await backend.open_another()  # a second process: no relay asked it
    backend.store.keep_written_outbox("relay-own", claim_seconds=30)
    run = await make_run(other)
    [task] = await other.create_tasks([new_task(run.id, "k")])
    assert other.take_written_outbox() == [] and backend.store.take_written_outbox() == []
    [row] = await backend.store.claim_outbox("relay-own")
    assert row.task_id == task.id and row.claimed_by == "relay-own"
