"""The TaskQueue contract, run against every backend: delivery, back-pressure, bounds, notices."""

from __future__ import annotations

import asyncio

import pytest

from ideamine.enums import TaskStatus
from ideamine.errors import QueueFull
from ideamine.queue import Notice, TaskQueue
from ideamine.queue._core import StreamQueue
from tests.queue.conftest import MakeQueue
from tests.queue.helpers import eventually, make_messages


async def test_satisfies_protocol(queue: StreamQueue) -> None:
    assert isinstance(queue, TaskQueue)
    await queue.ensure()  # idempotent


async def test_publish_consume_ack_round_trip(queue: StreamQueue) -> None:
    msgs = make_messages(10)
    ids = await queue.publish(msgs)
    assert len(ids) == 10 and len(set(ids)) == 10

    got = await queue.consume("w1", count=100)
    assert [d.message for d in got] == msgs  # in order, every field intact
    assert [d.entry_id for d in got] == ids
    assert {d.consumer for d in got} == {"w1"} and {d.deliveries for d in got} == {1}
    stats = await queue.stats()
    assert (stats.length, stats.pending, stats.consumers) == (10, 10, {"w1": 10})

    assert await queue.ack(got) == 10
    assert await queue.consume("w1", count=100) == []
    stats = await queue.stats()
    assert (stats.length, stats.pending, stats.dead_letters) == (0, 0, 0)
    assert await queue.ack(got) == 0  # acking twice is harmless


async def test_each_entry_goes_to_one_consumer(queue: StreamQueue) -> None:
    msgs = make_messages(6)
    await queue.publish(msgs)
    a = await queue.consume("a", count=4)
    b = await queue.consume("b", count=4)
    assert len(a) == 4 and len(b) == 2
    assert {d.message.task_id for d in a} | {d.message.task_id for d in b} == {m.task_id for m in msgs}


async def test_blocking_consume_wakes_on_publish(queue: StreamQueue) -> None:
    waiter = asyncio.create_task(queue.consume("w", count=5, block_ms=queue.limits.max_block_ms))
    msgs = make_messages(1)
    # Whether or not the read is parked yet, it must come back with the message.
    await queue.publish(msgs)
    got = await asyncio.wait_for(waiter, timeout=30)
    assert [d.message for d in got] == msgs


async def test_non_blocking_consume_on_empty_returns_nothing(queue: StreamQueue) -> None:
    assert await queue.consume("w", count=5) == []


async def test_publish_nothing_is_a_no_op(queue: StreamQueue) -> None:
    assert await queue.publish([]) == []
    assert (await queue.stats()).length == 0


async def test_back_pressure_refuses_whole_batch(make_queue: MakeQueue) -> None:
    q = await make_queue(max_stream_length=5)
    await q.publish(make_messages(4))
    with pytest.raises(QueueFull) as err:
        await q.publish(make_messages(2))  # 4 + 2 > 5: nothing of it is written
    assert err.value.retryable
    assert (await q.stats()).length == 4
    await q.publish(make_messages(1))
    with pytest.raises(QueueFull):
        await q.publish(make_messages(1))

    # Delivered but unacked entries are still backlog; acking frees room.
    got = await q.consume("w", count=2)
    with pytest.raises(QueueFull):
        await q.publish(make_messages(1))
    await q.ack(got)
    await q.publish(make_messages(2))
    assert (await q.stats()).length == 5


async def test_in_flight_bound_per_consumer(make_queue: MakeQueue) -> None:
    q = await make_queue(max_in_flight=3)
    await q.publish(make_messages(10))
    a = await q.consume("a", count=10)
    assert len(a) == 3
    assert await q.consume("a", count=10) == []  # full
    assert len(await q.consume("b", count=10)) == 3  # the bound is per consumer
    await q.ack(a[:1])
    assert len(await q.consume("a", count=10)) == 1


async def test_in_flight_bound_counts_leftovers_of_a_restarted_consumer(make_queue: MakeQueue) -> None:
    q = await make_queue(max_in_flight=3)
    await q.publish(make_messages(5))
    assert len(await q.consume("a", count=2)) == 2
    # A second handle on the same queue (a restarted process) has no local state, yet
    # sees the 2 entries its consumer name still holds, so 1 slot is left.
    fresh = StreamQueue(q.backend, keys=q.keys, limits=q.limits)
    assert len(await fresh.consume("a", count=10)) == 1


async def test_queued_task_ids_cover_pending_and_undelivered(queue: StreamQueue) -> None:
    msgs = make_messages(3)
    await queue.publish(msgs)
    got = await queue.consume("w", count=1)
    assert await queue.queued_task_ids() == {m.task_id for m in msgs}
    await queue.ack(got)
    assert await queue.queued_task_ids() == {m.task_id for m in msgs[1:]}


async def test_notices_round_trip_and_reclaim(queue: StreamQueue) -> None:
    notices = [
        Notice(task_id=m.task_id, run_id=m.run_id, attempt=1, status=TaskStatus.SUCCEEDED, phase=m.phase)
        for m in make_messages(3)
    ]
    await queue.publish_notice(notices[0])
    assert await queue.publish_notices([]) == []
    assert len(await queue.publish_notices(notices[1:])) == 2  # one call, in order
    got = await queue.consume_notices("o1", count=10)
    assert [d.message for d in got] == notices
    assert await queue.consume("w", count=10) == []  # notices never show up as tasks
    assert (await queue.stats()).notices_pending == 3

    await queue.ack_notices(got[:2])
    # o1 "dies" holding the third notice: another replica takes it once it is idle.
    taken = await eventually(
        lambda: queue.reclaim_notices("o2", min_idle_ms=100),
        bool,
        what="the orphaned notice to be reclaimed",
    )
    assert [(d.message, d.deliveries, d.consumer) for d in taken] == [(notices[2], 2, "o2")]
    await queue.ack_notices(taken)
    stats = await queue.stats()
    assert (stats.notices_length, stats.notices_pending) == (0, 0)


async def test_notices_are_bounded(make_queue: MakeQueue) -> None:
    q = await make_queue(max_notices_length=1)
    n = Notice(task_id="t", run_id="r", attempt=1, status=TaskStatus.FAILED, phase="qa")
    await q.publish_notice(n)
    with pytest.raises(QueueFull):
        await q.publish_notice(n)
    with pytest.raises(QueueFull):  # a batch past the bound: none of it is appended
        await q.publish_notices([n, n])
    assert (await q.stats()).notices_length == 1
