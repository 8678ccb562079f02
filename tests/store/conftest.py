"""The store contract suite's fixtures: one set of test bodies, every backend.

``backend`` is parametrised over ``sqlite`` (a fresh file in ``tmp_path``) and
``postgres`` (a fresh database per test, created from ``pg_url`` and migrated with
``ideamine.store.migrate``). Besides the store it offers what a contract test needs to
reach *around* the store — a second store on the same database (a second process, for
the concurrency tests) and raw SQL (to tamper with the ledger the way an attacker with
database access would) — so the test bodies stay backend-neutral.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ideamine.ids import new_id
from ideamine.store.base import RunStore
from ideamine.store.records import BudgetLimits, Event, LLMCallRecord, NewRun, NewTask, RunRecord


@dataclass
class Backend:
    """A store under test and the backend-specific ways around it."""

    name: str
    store: RunStore
    #: open another store instance on the same database (closed by the fixture)
    open_another: Callable[[], Awaitable[RunStore]]
    #: run raw SQL against the database, bypassing the store
    execute: Callable[[str], Awaitable[None]]
    #: drop the ledger's append-only triggers (to simulate tampering)
    disable_ledger_triggers: Callable[[], Awaitable[None]]
    #: the driver's base error class (what a rejected raw statement raises)
    db_error: type[BaseException]
    extra: list[RunStore] = field(default_factory=list)


async def _sqlite_backend(tmp_path: Path) -> Backend:
    import sqlite3

    import aiosqlite

    from ideamine.store.sqlite import open_sqlite

    path = tmp_path / "store.db"

    async def execute(sql: str) -> None:
        async with aiosqlite.connect(path) as conn:
            await conn.execute(sql)
            await conn.commit()

    async def disable() -> None:
        await execute("DROP TRIGGER ledger_no_update")
        await execute("DROP TRIGGER ledger_no_delete")

    async def another() -> RunStore:
        return await open_sqlite(path)

    return Backend("sqlite", await open_sqlite(path), another, execute, disable, sqlite3.Error)


def _postgres_class() -> Any:
    try:
        module = importlib.import_module("ideamine.store.postgres")
        return module.PostgresRunStore
    except (ImportError, AttributeError) as exc:
        pytest.skip(f"the PostgreSQL backend is not importable yet: {exc}")


async def _postgres_backend(pg_url: str, name: str) -> Backend:
    import asyncpg  # type: ignore[import-untyped]

    from ideamine.store.migrate import migrate

    cls = _postgres_class()
    admin = await asyncpg.connect(pg_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = pg_url.rsplit("/", 1)[0] + f"/{name}"
    await migrate(dsn)

    async def execute(sql: str) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def disable() -> None:
        await execute("ALTER TABLE ledger DISABLE TRIGGER USER")

    async def another() -> RunStore:
        store = cls(dsn)
        await store.open()
        return store  # type: ignore[no-any-return]

    return Backend("postgres", await another(), another, execute, disable, asyncpg.PostgresError)


async def _drop_database(pg_url: str, name: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(pg_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def backend(request: pytest.FixtureRequest, tmp_path: Path, pg_url: str) -> AsyncIterator[Backend]:
    """A fresh, empty store of each backend."""
    db_name = f"ideamine_store_{new_id().replace('-', '')}"
    if request.param == "sqlite":
        b = await _sqlite_backend(tmp_path)
    else:
        try:
            b = await _postgres_backend(pg_url, db_name)
        except BaseException:
            await _drop_database(pg_url, db_name)
            raise
    opened = b.open_another

    async def tracked() -> RunStore:
        store = await opened()
        b.extra.append(store)
        return store

    b.open_another = tracked
    try:
        yield b
    finally:
        for s in [b.store, *b.extra]:
            await s.close()
        if request.param == "postgres":
            await _drop_database(pg_url, db_name)


@pytest.fixture
def store(backend: Backend) -> RunStore:
    """The store under test."""
    return backend.store


# ---------------------------------------------------------------- factories
def new_run(tenant: str = "acme", *, tokens: int | None = 100_000, usd: float | None = 10.0) -> NewRun:
    """A run to create, with an ordinary budget."""
    return NewRun(
        tenant=tenant,
        title="Pet-sitting marketplace",
        idea={
            "text": "A marketplace for pet sitters",
            "title": "PetSit",
            "constraints": {"budget_usd": 5000},
        },
        phases=("intake", "ideation"),
        budget=BudgetLimits(tokens=tokens, usd=usd, wall_clock_seconds=3600.0),
        created_by="user-1",
        labels={"team": "growth"},
    )


def make_call(
    run_id: str,
    task_id: str | None = None,
    *,
    status: str = "ok",
    input_tokens: int = 1200,
    output_tokens: int = 800,
    cost_usd: float = 0.0125,
) -> LLMCallRecord:
    """One model call's record (an "error" call carries its reason)."""
    return LLMCallRecord(
        id=new_id(),
        run_id=run_id,
        task_id=task_id,
        phase="prd",
        agent="prd-writer",
        provider="offline",
        model="offline",
        request_hash="ab" * 32,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost_usd=cost_usd,
        status=status,
        error=None if status == "ok" else "overloaded",
        latency_ms=12.5,
        created_at=datetime.now(UTC),
    )


async def make_run(store: RunStore, tenant: str = "acme", **kw: Any) -> RunRecord:
    """Create a run with a "run.created" event."""
    return await store.create_run(new_run(tenant, **kw), events=[Event("run.created", {"tenant": tenant})])


def new_task(run_id: str, key: str = "intake", *, idem: str | None = None, phase: str = "intake") -> NewTask:
    """A task to create; the idempotency key is unique unless given."""
    return NewTask(
        run_id=run_id,
        phase=phase,
        task_key=key,
        agent="intake-agent",
        agent_version="1.0.0",
        idempotency_key=idem or f"idem-{new_id()}",
        input={"story": key},
    )
