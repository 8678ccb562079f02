"""Redis-only: a private AOF redis-server restarted mid-stream, flushed, or gone.

These are the DESIGN §3 promises that only a real server can break: acknowledged
publishes survive a restart (``appendfsync always``), pending entries keep their owner,
acked entries stay gone, a lost keyspace is rebuilt from the store by the reconciler,
and an unreachable server is a typed, retryable error.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from ideamine.errors import QueueUnavailable
from ideamine.ids import new_id
from ideamine.queue import QueueLimits, RedisStreamsQueue, TaskMessage
from ideamine.queue.reconciler import Reconciler, task_message
from tests.queue.helpers import eventually, make_messages
from tests.queue.servers import RedisServer, free_port, open_test_store
from tests.queue.test_reconciler import create_tasks

pytestmark = pytest.mark.redis


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[RedisServer]:
    async with RedisServer(tmp_path) as s:
        yield s


async def publish_until_confirmed(q: RedisStreamsQueue, batch: list[TaskMessage]) -> None:
    """Retry one batch through outages until the server confirms it (at-least-once)."""
    while True:
        try:
            await q.publish(batch)
            return
        except QueueUnavailable:
            await asyncio.sleep(0.05)  # client backoff while the server restarts


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
async def test_restart_mid_stream_loses_nothing(server: RedisServer, sig: signal.Signals) -> None:
    q = RedisStreamsQueue.from_url(
        server.url, prefix=f"dur-{new_id()}", limits=QueueLimits(max_in_flight=10_000)
    )
    await q.ensure()
    first = make_messages(100)
    await q.publish(first)
    held = await q.consume("w1", count=30)
    await q.ack(held[:10])
    pending = held[10:]

    confirmed: list[TaskMessage] = []

    async def producer() -> None:
        for _ in range(60):
            batch = make_messages(10)
            await publish_until_confirmed(q, batch)
            confirmed.extend(batch)

    task = asyncio.create_task(producer())
    await eventually(
        lambda: asyncio.sleep(0, len(confirmed)), lambda n: n >= 200, what="200 confirmed publishes"
    )
    before = await server.run_id()
    await server.restart(sig)  # the producer is mid-stream and keeps going through the outage
    assert await server.run_id() != before  # a new process, fed only by the AOF
    await asyncio.wait_for(task, timeout=60)
    assert len(confirmed) == 600

    ids = await q.queued_task_ids()
    expected = {m.task_id for m in first[10:]} | {m.task_id for m in confirmed}
    assert expected <= ids, f"lost {len(expected - ids)} confirmed tasks"
    assert not ids & {d.message.task_id for d in held[:10]}  # acked entries stay gone
    stats = await q.stats()
    assert (stats.pending, stats.consumers) == (20, {"w1": 20})  # pending kept their owner

    # The pending entries are reclaimable, everything else is still deliverable.
    reclaimed = await q.reclaim("w2", min_idle_ms=0, count=100)
    assert {d.entry_id for d in reclaimed.deliveries} == {d.entry_id for d in pending}
    rest = await q.consume("w2", count=10_000)
    assert {d.message.task_id for d in rest} | {d.message.task_id for d in pending} >= expected
    await q.close()


async def test_stale_pooled_connections_are_replaced_after_a_restart(server: RedisServer) -> None:
    q = RedisStreamsQueue.from_url(server.url, prefix=f"dur-{new_id()}")
    try:
        await q.ensure()
        await q.publish(make_messages(5))
        # Fill the pool with several connections, then restart the server under them.
        await asyncio.gather(*(q.queued_task_ids() for _ in range(4)))
        await server.restart(signal.SIGTERM)
        for _ in range(6):  # each call may pick another stale connection: none may fail
            assert len(await q.queued_task_ids()) == 5
    finally:
        await q.close()


async def test_flushall_then_reconciler_restores_every_unfinished_task(
    server: RedisServer, tmp_path: Path
) -> None:
    store = await open_test_store(tmp_path)
    q = RedisStreamsQueue.from_url(server.url, prefix=f"dur-{new_id()}")
    await q.ensure()
    try:
        tasks = await create_tasks(store, 20)
        rec = Reconciler(store, q)
        assert (await rec.publish_outbox()).published == 20
        got = await q.consume("w", count=3)
        for d in got[:2]:  # two finish and are acked; one is left running
            await store.start_task(d.message.task_id, attempt=1, worker="w", lease_seconds=15)
            await store.commit_task_result(d.message.task_id, attempt=1, output={}, artifacts=[])
        await q.ack(got[:2])
        await store.start_task(got[2].message.task_id, attempt=1, worker="w", lease_seconds=15)

        admin = aioredis.Redis.from_url(server.url)
        await admin.flushall()
        await admin.aclose()
        assert await q.queued_task_ids() == set()

        report = await rec.reconcile()
        finished = {d.message.task_id for d in got[:2]}
        unfinished = {t.id for t in tasks} - finished
        assert (report.republished, report.checked) == (18, 18)
        assert await q.queued_task_ids() == unfinished
        # The consumer group was lost too: it is re-created at id 0 and sees every entry.
        redelivered = await q.consume("w", count=100)
        assert {d.message.task_id: d.message for d in redelivered} == {
            t.id: task_message(await store.get_task(t.id)) for t in tasks if t.id in unfinished
        }
        assert (await rec.reconcile()).republished == 0
    finally:
        await q.close()
        await store.close()


async def test_unreachable_redis_is_a_retryable_queue_error() -> None:
    q = RedisStreamsQueue.from_url(f"redis://127.0.0.1:{free_port()}/0", prefix=f"dur-{new_id()}")
    with pytest.raises(QueueUnavailable) as err:
        await q.publish(make_messages(1))
    assert err.value.retryable
    with pytest.raises(QueueUnavailable):
        await q.consume("w", count=1)
    await q.close()
