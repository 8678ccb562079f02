"""Helpers for the agent-host tests: fresh databases and queues, a run with one task."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from ideamine.canonical import content_hash
from ideamine.ids import new_id
from ideamine.queue import RedisStreamsQueue
from ideamine.queue.base import TaskQueue
from ideamine.queue.reconciler import Reconciler
from ideamine.store.base import RunStore
from ideamine.store.records import BudgetLimits, NewRun, NewTask, TaskRecord
from tests.orchestrator.support import create_database, drop_database


async def seed_task(
    store: RunStore,
    queue: TaskQueue,
    *,
    agent: str,
    task_key: str,
    phase: str = "critique",
    version: str = "1.0.0",
    deadline: datetime | None = None,
    extra_input: dict[str, Any] | None = None,
) -> TaskRecord:
    """Create a run and one QUEUED task for ``agent``, and publish its message."""
    run = await store.create_run(
        NewRun(
            tenant="t-host",
            title="host test",
            idea={"text": "A marketplace for used climbing gear with escrow payments", "constraints": {}},
            phases=(phase,),
            budget=BudgetLimits(),
        )
    )
    [task] = await store.create_tasks(
        [
            NewTask(
                run_id=run.id,
                phase=phase,
                task_key=task_key,
                agent=agent,
                agent_version=version,
                idempotency_key=content_hash({"task": task_key, "run": run.id, "n": new_id()}),
                input={"task": task_key, "feedback": ["fix the escrow section"], **(extra_input or {})},
                deadline=deadline,
            )
        ]
    )
    await Reconciler(store, queue).publish_outbox()
    return task


@asynccontextmanager
async def fresh_database(pg_url: str) -> AsyncIterator[str]:
    """URL of a new database migrated to the current schema, dropped (FORCE) afterwards."""
    url = await create_database(pg_url)
    try:
        yield url
    finally:
        await drop_database(pg_url, url)


@asynccontextmanager
async def redis_queue(redis_url: str) -> AsyncIterator[RedisStreamsQueue]:
    """An ensured Redis Streams queue under a unique prefix, its keys deleted afterwards."""
    queue = RedisStreamsQueue.from_url(redis_url, prefix=f"test-{new_id()}")
    await queue.ensure()
    try:
        yield queue
    finally:
        await queue.client.delete(*queue.keys.all())
        await queue.close()
