"""Fixtures for the queue suites: one contract suite, every backend.

``make_queue(**limits)`` builds an ensured queue of the parametrised backend with a
unique key prefix (so concurrent tests on the shared Redis never meet) and removes its
keys afterwards. ``inject_raw`` appends an entry verbatim, for poison tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from ideamine.ids import new_id
from ideamine.queue import MemoryQueue, QueueLimits, RedisStreamsQueue
from ideamine.queue._core import StreamQueue

MakeQueue = Callable[..., Awaitable[StreamQueue]]


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> str:
    """The backend under test."""
    return str(request.param)


@pytest.fixture
async def make_queue(backend: str, redis_url: str) -> AsyncIterator[MakeQueue]:
    """Factory of ensured queues (same backend, fresh prefix each) cleaned up after the test."""
    made: list[StreamQueue] = []

    async def make(**limits: Any) -> StreamQueue:
        prefix = f"test-{new_id()}"
        q: StreamQueue
        if backend == "memory":
            q = MemoryQueue(prefix=prefix, limits=QueueLimits(**limits))
        else:
            q = RedisStreamsQueue.from_url(redis_url, prefix=prefix, limits=QueueLimits(**limits))
        await q.ensure()
        made.append(q)
        return q

    yield make
    for q in made:
        if isinstance(q, RedisStreamsQueue):
            await q.client.delete(*q.keys.all())
        await q.close()


@pytest.fixture
async def queue(make_queue: MakeQueue) -> StreamQueue:
    """A queue with default limits."""
    return await make_queue()


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """A plain client on the shared test Redis."""
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()
