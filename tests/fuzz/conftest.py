"""Hypothesis settings of the fuzz suites: bounded, quiet, no example database in the tree.

``FUZZ_EXAMPLES`` sets the examples per test (default 25, enough for the normal test run
to stay quick; raise it for a longer local hunt, e.g. ``FUZZ_EXAMPLES=500``). No
per-example deadline: the servers are real and a loaded CI box is slow. Failures print
the reproducing blob (``@reproduce_failure``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest_asyncio
from hypothesis import HealthCheck, settings

from agent_host.worker import TaskWorker
from ideamine.llm.offline import OfflineProvider
from ideamine.plugins import AgentRegistry, get_plugin_manager
from ideamine.queue import RedisStreamsQueue
from ideamine.store.base import RunStore
from ideamine.store.factory import open_store
from tests.agent_host.support import fresh_database, redis_queue
from tests.fuzz import agents

settings.register_profile(
    "ideamine-fuzz",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "25")),
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)
settings.load_profile("ideamine-fuzz")


@dataclass
class Consumer:
    """A real agent host's worker loop: PostgreSQL store, Redis queue, offline model."""

    queue: RedisStreamsQueue
    store: RunStore
    worker: TaskWorker


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def consumer(pg_url: str, redis_url: str) -> AsyncIterator[Consumer]:
    """A fresh database and queue prefix with a :class:`TaskWorker` consuming in the background.

    The built-in agents and :mod:`tests.fuzz.agents` (the echo agent) are registered.
    """
    async with fresh_database(pg_url) as db_url, redis_queue(redis_url) as queue:
        store = await open_store(db_url)
        worker = TaskWorker(
            store=store,
            queue=queue,
            registry=AgentRegistry.from_plugin_manager(get_plugin_manager(extra=[agents])),
            provider=OfflineProvider(),
            consumer="fuzz-consumer",
            lease_seconds=5.0,
            heartbeat_seconds=1.0,
        )
        running = asyncio.create_task(worker.run())
        try:
            yield Consumer(queue, store, worker)
        finally:
            worker.shutdown()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(running, 30)
            await store.close()
