"""Fixtures for the PostgreSQL-only tests: a fresh, empty database per test.

Each test gets its own database (created from ``pg_url``, dropped with ``FORCE`` after)
so migration tests can start from nothing and connection-loss tests can kill backends
without touching anyone else's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

from ideamine.ids import new_id

pytestmark = pytest.mark.postgres


@pytest.fixture
async def empty_db(pg_url: str) -> AsyncIterator[str]:
    """URL of a new, empty database (dropped after the test)."""
    name = f"ideamine_pg_{new_id().replace('-', '')}"
    admin = await asyncpg.connect(pg_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield pg_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        admin = await asyncpg.connect(pg_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def migrated_db(empty_db: str) -> str:
    """URL of a new database migrated to the current schema."""
    from ideamine.store.migrate import migrate

    await migrate(empty_db)
    return empty_db


async def eventually(
    check: Callable[[], Awaitable[Any]], *, within: float = 10.0, what: str = "condition"
) -> Any:
    """Poll ``check`` until it returns a truthy value; fail after ``within`` seconds.

    A deadline, not a sleep-and-hope: the test proceeds as soon as the state is there.
    """
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
