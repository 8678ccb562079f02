"""The TaskQueue contract, every backend: leases, reclaim, dead letters, poison, trimming."""

from __future__ import annotations

from ideamine.queue import Delivery, TaskMessage
from ideamine.queue._core import StreamQueue, over_delivered_reason
from tests.queue.conftest import MakeQueue
from tests.queue.helpers import eventually, make_messages

LEASE_MS = 200  #: small lease so crashed-consumer tests finish quickly
NEVER_MS = 600_000  #: a min-idle no entry in these tests ever reaches


async def test_crashed_consumer_entries_are_redelivered(queue: StreamQueue) -> None:
    msgs = make_messages(3)
    await queue.publish(msgs)
    held = await queue.consume("dies", count=3)  # ... and never acks
    assert len(held) == 3

    assert (await queue.reclaim("rescuer", min_idle_ms=NEVER_MS)).deliveries == []  # not idle long enough
    got = await eventually(
        lambda: queue.reclaim("rescuer", min_idle_ms=LEASE_MS),
        lambda r: len(r.deliveries) == 3,
        what="3 entries reclaimed",
    )
    assert [d.message for d in got.deliveries] == msgs
    assert {(d.consumer, d.deliveries) for d in got.deliveries} == {("rescuer", 2)}
    assert got.dead == []
    assert (await queue.stats()).consumers == {"rescuer": 3}

    # The crashed consumer's lease is gone; the rescuer's ack is what counts.
    assert not await queue.extend(held[0])
    assert await queue.ack(got.deliveries) == 3
    assert (await queue.stats()).length == 0


async def test_lease_extension_keeps_a_slow_task(queue: StreamQueue) -> None:
    await queue.publish(make_messages(2))
    slow, idle = await queue.consume("slow", count=2)

    async def extend_then_reclaim() -> list[Delivery[TaskMessage]]:
        assert await queue.extend(slow)  # the slow worker's heartbeat
        return (await queue.reclaim("thief", min_idle_ms=LEASE_MS)).deliveries

    # Keep heartbeating until the idle (never extended) entry has been taken over.
    taken = await eventually(extend_then_reclaim, bool, what="the idle entry to be reclaimed")
    assert [d.entry_id for d in taken] == [idle.entry_id]
    assert await queue.extend(slow)  # still ours
    assert not await queue.extend(idle)  # lost: the worker must stop without committing
    assert (await queue.stats()).consumers == {"slow": 1, "thief": 1}


async def test_dead_letter_after_max_deliveries(make_queue: MakeQueue) -> None:
    q = await make_queue(max_deliveries=3)
    [msg] = make_messages(1)
    await q.publish([msg])
    assert len(await q.consume("c1", count=1)) == 1
    seen: list[int] = [1]
    for i in range(2, 10):
        r = await eventually(
            lambda i=i: q.reclaim(f"c{i}", min_idle_ms=20),  # type: ignore[misc]
            lambda r: bool(r.deliveries or r.dead),
            what=f"reclaim #{i}",
        )
        if r.dead:
            break
        seen.extend(d.deliveries for d in r.deliveries)
    assert seen == [1, 2, 3]
    [dead] = r.dead
    assert dead.message == msg
    assert dead.reason == over_delivered_reason(3) == "exceeded max_deliveries=3"
    assert dead.deliveries == 3 and dead.consumer == "c3"

    stats = await q.stats()
    assert (stats.length, stats.pending, stats.dead_letters) == (0, 0, 1)
    [stored] = await q.dead_letters()
    assert (stored.message, stored.reason, stored.deliveries, stored.consumer) == (msg, dead.reason, 3, "c3")
    assert stored.entry_id == dead.entry_id


async def test_explicit_dead_letter_keeps_reason(queue: StreamQueue) -> None:
    [msg] = make_messages(1)
    await queue.publish([msg])
    [d] = await queue.consume("w", count=1)
    await queue.dead_letter(d, "agent raised PoisonInput: prompt too large")
    [stored] = await queue.dead_letters()
    assert (stored.message, stored.reason, stored.consumer, stored.deliveries) == (
        msg,
        "agent raised PoisonInput: prompt too large",
        "w",
        1,
    )
    assert not await queue.extend(d)
    assert (await queue.stats()).length == 0


async def test_poison_entries_are_dead_lettered_and_consumer_keeps_working(queue: StreamQueue) -> None:
    good = make_messages(3)
    await queue.publish(good[:1])
    await queue.publish_raw({"v": "1", "task_id": "half-a-message"})
    await queue.publish_raw({**good[1].encode(), "v": "99"})
    await queue.publish_raw({**good[1].encode(), "attempt": "zero"})
    await queue.publish_raw({"garbage": b"\xff\xfe"})
    await queue.publish(good[1:])

    got = await queue.consume("w", count=10)
    assert [d.message for d in got] == good
    letters = await queue.dead_letters()
    reasons = [d.reason for d in letters]
    assert len(reasons) == 4 and all(r.startswith("malformed: ") for r in reasons)
    assert "missing field 'run_id'" in reasons[0]
    assert "unsupported message version '99'" in reasons[1]
    assert "'attempt' is not an integer" in reasons[2]
    assert "not UTF-8" in reasons[3]
    assert letters[0].fields == {"v": "1", "task_id": "half-a-message"}
    stats = await queue.stats()
    assert (stats.length, stats.pending, stats.dead_letters) == (3, 3, 4)

    await queue.ack(got)
    await queue.publish(make_messages(1))
    assert len(await queue.consume("w", count=10)) == 1


async def test_poison_left_pending_by_a_crash_is_dead_lettered_on_reclaim(queue: StreamQueue) -> None:
    [msg] = make_messages(1)
    await queue.publish_raw({"v": "2", "task_id": "from-the-future"})
    await queue.publish([msg])
    # A consumer that crashed between reading and burying would leave the poison pending;
    # emulate it with the backend primitive that consume uses.
    raws = await queue.backend.read(queue.keys.tasks, "workers", "crashed", count=2, block_ms=0)
    assert len(raws) == 2
    r = await eventually(
        lambda: queue.reclaim("rescuer", min_idle_ms=LEASE_MS), lambda r: bool(r.deliveries), what="reclaim"
    )
    assert [d.message for d in r.deliveries] == [msg]
    assert r.dead == []  # the poison has no task to mark DEAD; it is only dead-lettered
    [letter] = await queue.dead_letters()
    assert letter.message is None and "unsupported message version" in letter.reason


async def test_acking_never_trims_pending_entries(make_queue: MakeQueue) -> None:
    q = await make_queue(max_stream_length=10)
    first = make_messages(10)
    await q.publish(first)
    held = await q.consume("w", count=10)
    await q.ack(held[::2])  # 5 acked, 5 still pending
    second = make_messages(5)
    await q.publish(second)  # room came only from acked entries
    assert (await q.stats()).length == 10
    assert await q.queued_task_ids() == {m.task_id for m in first[1::2] + second}

    r = await eventually(
        lambda: q.reclaim("r", min_idle_ms=LEASE_MS), lambda r: len(r.deliveries) == 5, what="5 reclaimed"
    )
    assert [d.message for d in r.deliveries] == first[1::2]  # intact, in order
    assert [d.message for d in await q.consume("r2", count=10)] == second


async def test_reclaim_takes_large_pending_lists(make_queue: MakeQueue) -> None:
    q = await make_queue(max_in_flight=5000)
    await q.publish(make_messages(1200))
    assert len(await q.consume("dies", count=1200)) == 1200
    r = await q.reclaim("rescuer", min_idle_ms=0, count=1200)
    assert len(r.deliveries) == 1200 and {d.deliveries for d in r.deliveries} == {2}
