"""Fixtures for the PostgreSQL-only tests: a fresh, empty database per test.

Each test gets its own database (created from ``pg_url``, dropped with ``FORCE`` after)
so migration tests can start from nothing and connection-loss tests can kill backends
without touching anyone else's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg  # type: ignore[import-untyped]
import pytest

from ideamine.ids import new_id
from ideamine.store.postgres import PostgresRunStore
from ideamine.store.records import BudgetLimits, Event, NewRun

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


@pytest.fixture
async def store(migrated_db: str) -> AsyncIterator[PostgresRunStore]:
    """An open store on a fresh migrated database."""
    s = PostgresRunStore(migrated_db)
    await s.open()
    try:
        yield s
    finally:
        await s.close()


async def new_runs(store: PostgresRunStore, n: int) -> list[str]:
    """Ids of ``n`` new one-phase runs, each with its ``run.created`` ledger row."""
    return [
        (
            await store.create_run(
                NewRun(tenant="t", title="x", idea={"text": "x"}, phases=("intake",), budget=BudgetLimits()),
                events=[Event("run.created")],
            )
        ).id
        for _ in range(n)
    ]
