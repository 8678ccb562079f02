"""The outbox publisher and reconciler over a real SQLite store and the in-memory queue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ideamine.enums import TaskStatus
from ideamine.ids import new_id
from ideamine.queue import MemoryQueue, QueueLimits
from ideamine.queue.reconciler import Reconciler, task_message
from ideamine.store.base import RunStore
from ideamine.store.records import BudgetLimits, NewRun, NewTask, TaskRecord
from tests.queue.servers import open_test_store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[RunStore]:
    s = await open_test_store(tmp_path)
    yield s
    await s.close()


async def create_tasks(store: RunStore, n: int) -> list[TaskRecord]:
    """A run with ``n`` QUEUED tasks (each with an outbox row)."""
    run = await store.create_run(
        NewRun(tenant="acme", title="t", idea={"text": "an idea"}, phases=("intake",), budget=BudgetLimits())
    )
    return await store.create_tasks(
        [
            NewTask(
                run_id=run.id,
                phase="intake",
                task_key=f"k{i}",
                agent="intake-agent",
                agent_version="1",
                idempotency_key=new_id(),
                input={},
            )
            for i in range(n)
        ]
    )


async def test_publish_outbox_publishes_each_task_once(store: RunStore) -> None:
    tasks = await create_tasks(store, 7)
    q = MemoryQueue()
    rec = Reconciler(store, q, batch_size=3)
    report = await rec.publish_outbox()
    assert (report.published, report.skipped, report.backlogged) == (7, 0, False)
    got = await q.consume("w", count=100)
    assert {d.message.task_id: d.message for d in got} == {t.id: task_message(t) for t in tasks}
    assert (await rec.publish_outbox()).published == 0  # rows are marked published
    assert await store.fetch_outbox(topic="tasks") == []


async def test_queue_full_leaves_rows_for_the_next_pass(store: RunStore) -> None:
    await create_tasks(store, 5)
    q = MemoryQueue(limits=QueueLimits(max_stream_length=4))
    rec = Reconciler(store, q, batch_size=2)
    first = await rec.publish_outbox()
    assert first.backlogged and first.published == 4
    assert len(await store.fetch_outbox(topic="tasks")) == 1
    await q.ack(await q.consume("w", count=4))
    second = await rec.publish_outbox()
    assert (second.published, second.backlogged) == (1, False)


async def test_reconcile_restores_unfinished_tasks_after_queue_loss(store: RunStore) -> None:
    tasks = await create_tasks(store, 6)
    lost = MemoryQueue()
    await Reconciler(store, lost).publish_outbox()
    # Progress: two tasks finish, one is running; then the embedded process dies.
    running = await store.start_task(tasks[0].id, attempt=1, worker="w", lease_seconds=15)
    for t in tasks[1:3]:
        await store.start_task(t.id, attempt=1, worker="w", lease_seconds=15)
        await store.commit_task_result(t.id, attempt=1, output={}, artifacts=[])

    fresh = MemoryQueue()
    rec = Reconciler(store, fresh)
    report = await rec.reconcile()
    unfinished = {tasks[0].id, *(t.id for t in tasks[3:])}
    assert (report.republished, report.checked) == (4, 4)
    assert await fresh.queued_task_ids() == unfinished
    got = {d.message.task_id: d.message for d in await fresh.consume("w", count=100)}
    assert got[running.id] == task_message(running)
    assert (await rec.reconcile()).republished == 0  # everything is there now


async def test_outbox_rows_of_finished_tasks_are_skipped(store: RunStore) -> None:
    [t] = await create_tasks(store, 1)
    await store.fail_task(t.id, attempt=1, error="cancelled before publish", status=TaskStatus.CANCELLED)
    q = MemoryQueue()
    report = await Reconciler(store, q).publish_outbox()
    assert (report.published, report.skipped) == (0, 1)
    assert await q.queued_task_ids() == set()


async def test_two_relays_on_one_outbox_publish_each_task_once(store: RunStore) -> None:
    tasks = await create_tasks(store, 9)
    q = MemoryQueue()
    relays = [Reconciler(store, q, batch_size=2, owner=f"relay-{i}") for i in range(3)]
    reports = await asyncio.gather(*(r.publish_outbox() for r in relays))
    assert sum(r.published for r in reports) == 9
    got = [d.message.task_id for d in await q.consume("w", count=100)]
    assert sorted(got) == sorted(t.id for t in tasks)  # no duplicates


async def test_rows_claimed_by_a_live_relay_are_left_to_it(store: RunStore) -> None:
    await create_tasks(store, 2)
    await store.claim_outbox("busy-relay", claim_seconds=300)
    q = MemoryQueue()
    assert (await Reconciler(store, q).publish_outbox()).published == 0
    assert await q.queued_task_ids() == set()


async def test_a_crashed_relays_rows_are_published_once_its_claim_expires(store: RunStore) -> None:
    tasks = await create_tasks(store, 3)
    await store.claim_outbox("crashed-relay", claim_seconds=0)  # claimed, never published or marked
    q = MemoryQueue()
    assert (await Reconciler(store, q, owner="survivor").publish_outbox()).published == 3
    assert await q.queued_task_ids() == {t.id for t in tasks}
    assert await store.fetch_outbox() == []


async def test_queue_full_gives_the_claim_back_at_once(store: RunStore) -> None:
    await create_tasks(store, 3)
    q = MemoryQueue(limits=QueueLimits(max_stream_length=2))
    first = await Reconciler(store, q, batch_size=2, owner="a").publish_outbox()
    assert first.backlogged and first.published == 2
    [waiting] = await store.fetch_outbox()
    assert waiting.claimed_by is None  # any relay may publish it now, not after an expiry
    await q.ack(await q.consume("w", count=2))
    assert (await Reconciler(store, q, owner="b").publish_outbox()).published == 1


async def test_a_batch_publishes_tasks_and_notices_and_marks_both(store: RunStore) -> None:
    [t] = await create_tasks(store, 1)
    await store.start_task(t.id, attempt=1, worker="w", lease_seconds=15)
    notice = {"task_id": t.id, "run_id": t.run_id, "attempt": 1, "status": "SUCCEEDED", "phase": "intake"}
    await store.commit_task_result(t.id, attempt=1, output={}, artifacts=[], notice=notice)
    q = MemoryQueue()
    report = await Reconciler(store, q).publish_outbox()
    assert (report.published, report.notices, report.skipped) == (0, 1, 1)  # the task row: task finished
    [got] = await q.consume_notices("o", count=10)
    assert got.message.task_id == t.id
    assert await store.fetch_outbox() == []


class CountingReconciler(Reconciler):
    """A reconciler that counts its relay passes (the real pass runs)."""

    passes = 0

    async def publish_written(self):  # type: ignore[no-untyped-def]
        self.passes += 1
        return await super().publish_written()


async def test_concurrent_relay_calls_share_passes_and_each_sees_its_rows_out(store: RunStore) -> None:
    q = MemoryQueue()
    rec = CountingReconciler(store, q)
    await create_tasks(store, 1)
    first = asyncio.create_task(rec.relay())
    await asyncio.sleep(0)  # the first pass is under way: rows written now need a later pass
    tasks = await create_tasks(store, 5)
    reports = await asyncio.gather(*(rec.relay() for _ in range(10)))
    await first
    assert rec.passes <= 3  # not one per call
    assert sum(r.published for r in reports) >= 5
    got = {d.message.task_id for d in await q.consume("w", count=100)}
    assert {t.id for t in tasks} <= got and len(got) == 6


async def test_relay_calls_arriving_together_share_one_pass(store: RunStore) -> None:
    """The members of one batched commit call relay() in one loop iteration: one pass."""
    q = MemoryQueue()
    rec = CountingReconciler(store, q)
    tasks = await create_tasks(store, 4)
    reports = await asyncio.gather(*(rec.relay() for _ in range(8)))
    assert rec.passes == 1
    assert all(r.published == 4 for r in reports)
    assert {d.message.task_id for d in await q.consume("w", count=100)} == {t.id for t in tasks}


async def test_relay_publishes_its_own_writes_and_leaves_other_processes_rows_to_the_sweep(
    store: RunStore, tmp_path: Path
) -> None:
    other = await open_test_store(tmp_path)  # a second process on the same database
    try:
        q = MemoryQueue()
        rec = Reconciler(store, q, owner="mine")
        mine = await create_tasks(store, 2)
        theirs = await create_tasks(other, 3)
        first = await rec.relay()
        assert (first.published, first.backlogged) == (2, False)
        assert await q.queued_task_ids() == {t.id for t in mine}
        swept = await rec.publish_outbox()  # the periodic sweep claims what others left
        assert swept.published == 3
        assert await q.queued_task_ids() == {t.id for t in [*mine, *theirs]}
        assert await store.fetch_outbox() == []
    finally:
        await other.close()


async def test_rows_of_a_process_that_died_before_relaying_go_out_when_their_claim_lapses(
    store: RunStore, tmp_path: Path
) -> None:
    survivor_store = await open_test_store(tmp_path)
    try:
        q = MemoryQueue()
        Reconciler(store, q, owner="doomed", claim_seconds=0.2)
        tasks = await create_tasks(store, 2)  # committed, claimed for "doomed", never relayed
        survivor = Reconciler(survivor_store, q, owner="survivor")
        assert (await survivor.publish_outbox()).published == 0  # the claim still holds
        await asyncio.sleep(0.3)
        assert (await survivor.publish_outbox()).published == 2
        assert await q.queued_task_ids() == {t.id for t in tasks}
    finally:
        await survivor_store.close()


async def test_queue_full_gives_a_relays_own_rows_back_at_once(store: RunStore) -> None:
    q = MemoryQueue(limits=QueueLimits(max_stream_length=2))
    rec = Reconciler(store, q, batch_size=2, owner="a")
    await create_tasks(store, 3)
    first = await rec.relay()
    assert first.backlogged and first.published == 2
    [waiting] = await store.fetch_outbox()
    assert waiting.claimed_by is None  # any relay's sweep may publish it now
    assert (await rec.relay()).published == 0  # no longer this relay's own row
    await q.ack(await q.consume("w", count=2))
    assert (await Reconciler(store, q, owner="b").publish_outbox()).published == 1


async def test_a_relays_own_task_rows_become_the_same_messages_a_task_read_gives(
    store: RunStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    q = MemoryQueue()
    rec = Reconciler(store, q, owner="mine")
    run = await store.create_run(
        NewRun(tenant="acme", title="t", idea={"text": "an idea"}, phases=("intake",), budget=BudgetLimits())
    )
    deadline = datetime(2031, 1, 2, 3, 4, 5, 600_000, tzinfo=UTC)
    [task] = await store.create_tasks(
        [
            NewTask(
                run_id=run.id,
                phase="intake",
                task_key="k",
                agent="intake-agent",
                agent_version="1",
                idempotency_key=new_id(),
                input={},
                deadline=deadline,
            )
        ]
    )
    [row] = await store.fetch_outbox()
    await store.start_task(task.id, attempt=1, worker="w", lease_seconds=15)
    requeued = await store.requeue_task(task.id, attempt=1, reason="again")

    async def no_reads(task_ids: object) -> None:
        raise AssertionError("the relay read tasks it had just written")

    monkeypatch.setattr(store, "get_tasks", no_reads)
    assert (await rec.relay()).published == 1  # two rows of one task: one message, the newer attempt
    [got] = await q.consume("w", count=10)
    assert got.message == task_message(requeued)
    assert got.message.deadline is not None and datetime.fromisoformat(got.message.deadline) == deadline
    assert row.claimed_by == "mine"
