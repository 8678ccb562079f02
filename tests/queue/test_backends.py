"""Backend-specific behaviour the contract suite cannot reach from outside."""

from __future__ import annotations

import asyncio

import pytest

from ideamine.ids import new_id
from ideamine.queue import MemoryQueue, QueueLimits, RedisStreamsQueue, open_queue
from ideamine.queue.keys import QueueKeys
from ideamine.queue.redis_streams import HiredisPackingConnection
from tests.queue.helpers import make_messages


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_memory_idle_time_follows_its_clock() -> None:
    clock = FakeClock()  # steps are binary fractions, so the arithmetic is exact
    q = MemoryQueue(clock=clock, limits=QueueLimits(max_deliveries=2))
    await q.publish(make_messages(1))
    [held] = await q.consume("a", count=1)
    clock.now += 0.125
    assert (await q.reclaim("b", min_idle_ms=250)).deliveries == []
    clock.now += 0.125
    [taken] = (await q.reclaim("b", min_idle_ms=250)).deliveries
    assert (taken.consumer, taken.deliveries) == ("b", 2)
    clock.now += 0.125
    assert await q.extend(taken)  # resets idle: that 0.125 s is forgotten
    clock.now += 0.125
    assert (await q.reclaim("c", min_idle_ms=250)).deliveries == []
    clock.now += 0.125
    result = await q.reclaim("c", min_idle_ms=250)
    assert result.deliveries == [] and [d.deliveries for d in result.dead] == [2]
    assert not await q.extend(held)


async def test_memory_close_wakes_blocked_consumers() -> None:
    q = MemoryQueue(limits=QueueLimits(max_block_ms=600_000))
    waiter = asyncio.create_task(q.consume("w", count=1, block_ms=600_000))
    await asyncio.sleep(0)  # let it park
    await q.close()
    assert await asyncio.wait_for(waiter, timeout=30) == []


@pytest.mark.redis
async def test_redis_group_loss_is_healed(redis_url: str) -> None:
    q = RedisStreamsQueue.from_url(redis_url, prefix=f"test-{new_id()}")
    await q.ensure()
    try:
        await q.client.delete(*q.keys.all())  # a FLUSHALL, scoped to this namespace
        msgs = make_messages(3)
        await q.publish(msgs)  # re-creates the stream, but not the group
        got = await q.consume("w", count=10)  # NOGROUP -> group re-created at id 0
        assert [d.message for d in got] == msgs
        assert (await q.stats()).pending == 3
    finally:
        await q.client.delete(*q.keys.all())
        await q.close()


@pytest.mark.redis
async def test_hiredis_packing_connection_speaks_every_command_shape(redis_url: str) -> None:
    q = RedisStreamsQueue.from_url(redis_url, prefix=f"test-{new_id()}")
    key = f"{q.keys.tag}:probe"
    try:
        assert await q.client.execute_command("CONFIG GET", "maxmemory-policy")  # type: ignore[no-untyped-call]
        await q.client.set(key, bytearray(b"\x00\xff"))
        await q.client.append(key, memoryview(b"!"))
        await q.client.incrbyfloat(f"{key}:n", 2.5)
        assert await q.client.get(key) == b"\x00\xff!"
        assert await q.client.get(f"{key}:n") == b"2.5"
    finally:
        await q.client.delete(key, f"{key}:n")
        await q.close()


async def test_open_queue_picks_backend_by_scheme(redis_url: str) -> None:
    mem = open_queue("memory://", prefix="x")
    assert isinstance(mem, MemoryQueue) and mem.keys == QueueKeys("x")
    red = open_queue(redis_url, limits=QueueLimits(max_in_flight=7))
    assert isinstance(red, RedisStreamsQueue) and red.limits.max_in_flight == 7
    await red.close()
    with pytest.raises(ValueError, match="unsupported queue URL scheme 'amqp'"):
        open_queue("amqp://localhost")


def test_key_names_share_one_hash_slot() -> None:
    keys = QueueKeys("t1")
    assert keys.all() == ("{t1}:tasks", "{t1}:notices", "{t1}:dead")
    with pytest.raises(ValueError):
        QueueKeys("a{b}")


def test_public_surface_is_pinned() -> None:
    import ideamine.queue as pkg

    assert sorted(pkg.__all__) == pkg.__all__
    assert all(hasattr(pkg, name) for name in pkg.__all__)
    assert "MalformedMessage" in pkg.__all__ and "open_queue" in pkg.__all__


async def test_redis_client_packs_with_hiredis_on_plain_tcp_only(redis_url: str) -> None:
    q = RedisStreamsQueue.from_url(redis_url)
    assert q.client.connection_pool.connection_class is HiredisPackingConnection
    await q.close()
    tls = RedisStreamsQueue.from_url("rediss://127.0.0.1:1/0")  # never connects
    assert tls.client.connection_pool.connection_class is not HiredisPackingConnection
    await tls.close()
