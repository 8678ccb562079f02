"""SQLite-only checks: the schema agrees with the enums and the PostgreSQL migration,
the file is opened with the durability settings, and a foreign schema is refused."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from pathlib import Path

import pytest

from ideamine.errors import StoreUnavailable
from ideamine.ids import new_id
from ideamine.store.sqlite import SCHEMA_VERSION, SqliteStore, open_sqlite
from ideamine.store.sqlite.registry import HOST_STATUSES
from tests.store.conftest import make_run, new_task
from tests.store.schema_facts import ENUM_COLUMNS

#: SQLite-only tables: FTS5 (PostgreSQL uses a GIN index) and the AUTOINCREMENT counter
SQLITE_ONLY = re.compile(r"^(answers_fts.*|sqlite_.*)$")


def _tables(path: Path) -> dict[str, str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name: sql for name, sql in rows if not SQLITE_ONLY.match(name)}


def _columns(path: Path) -> dict[str, set[str]]:
    with sqlite3.connect(path) as conn:
        return {t: {r[1] for r in conn.execute(f"PRAGMA table_info({t})")} for t in _tables(path)}


@pytest.fixture
async def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "schema.db"
    store = await open_sqlite(path)
    await store.close()
    return path


def test_status_checks_list_exactly_the_enum_names(db_path: Path) -> None:
    found: dict[tuple[str, str], set[str]] = {}
    for table, sql in _tables(db_path).items():
        for column, values in re.findall(r"\n\s*(\w+)\s+TEXT[^\n]*CHECK \(\w+ IN \(([^)]*)\)\)", sql):
            names = set(re.findall(r"'([^']*)'", values))
            if all(n.isupper() for n in names):
                found[(table, column)] = names
    expected = {key: {m.name for m in enum} for key, enum in ENUM_COLUMNS.items()}
    expected[("agent_hosts", "status")] = set(HOST_STATUSES)
    assert found == expected


async def test_file_uses_wal_full_sync_and_foreign_keys(tmp_path: Path) -> None:
    store = await open_sqlite(tmp_path / "d.db")
    try:
        conn = store._conn
        assert conn is not None
        pragmas = {}
        for name in ("journal_mode", "synchronous", "foreign_keys"):
            pragmas[name] = list(await conn.execute_fetchall(f"PRAGMA {name}"))[0][0]
        assert pragmas == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1}
    finally:
        await store.close()


async def test_data_survives_reopening(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "d.db") as store:
        run = await make_run(store)
    async with SqliteStore(tmp_path / "d.db") as again:
        assert await again.get_run(run.id) == run
        assert (await again.verify_ledger(run.id)).ok


async def test_another_schema_version_is_refused(db_path: Path) -> None:
    with sqlite3.connect(db_path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreUnavailable, match="schema version") as info:
        await open_sqlite(db_path)
    assert info.value.retryable is False


async def test_a_foreign_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "foreign.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    with pytest.raises(StoreUnavailable, match="schema version"):
        await open_sqlite(path)


async def test_two_processes_creating_one_file_both_open_it(tmp_path: Path) -> None:
    # racing the switch to WAL failed one open in ~13 (SQLite answers "locked" without
    # waiting): many fresh files, so a regression shows up
    for i in range(25):
        path = tmp_path / f"race{i}.db"
        stores = await asyncio.gather(*(open_sqlite(path) for _ in range(4)))
        try:
            run = await make_run(stores[0])
            assert all([await s.get_run(run.id) == run for s in stores])
        finally:
            for s in stores:
                await s.close()


async def test_ledger_triggers_abort_raw_changes(db_path: Path) -> None:
    async with SqliteStore(db_path) as store:
        run = await make_run(store)
    with sqlite3.connect(db_path) as conn:
        for sql in ("UPDATE ledger SET type = 'x'", "DELETE FROM ledger"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(sql)
    async with SqliteStore(db_path) as store:
        assert len(await store.list_events(run.id)) == 1


@pytest.mark.postgres
async def test_tables_and_columns_equal_the_postgresql_migration(db_path: Path, pg_url: str) -> None:
    asyncpg = pytest.importorskip("asyncpg")
    from ideamine.store.migrate import migrate

    name = f"ideamine_schema_{new_id().replace('-', '')}"
    admin = await asyncpg.connect(pg_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        dsn = pg_url.rsplit("/", 1)[0] + f"/{name}"
        await migrate(dsn)
        conn = await asyncpg.connect(dsn)
        try:
            rows = await conn.fetch(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = 'public' AND table_name <> 'schema_migrations'"
            )
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    postgres: dict[str, set[str]] = {}
    for row in rows:
        postgres.setdefault(row["table_name"], set()).add(row["column_name"])
    assert _columns(db_path) == postgres


def _indexes(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
        return {name for (name,) in rows}


def _downgrade_to_version_1(path: Path) -> None:
    """Undo the version-2 and -3 changes (outbox claims; indexes), as a file written by older code looks."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE INDEX tasks_idempotency_key ON tasks (idempotency_key)")
        conn.execute("DROP INDEX timers_unfired")
        conn.execute(
            "CREATE INDEX timers_due ON timers (fire_at) WHERE fired_at IS NULL AND claimed_by IS NULL"
        )
        conn.execute("CREATE INDEX outbox_unpublished ON outbox (topic, id) WHERE published_at IS NULL")
        conn.execute("DROP INDEX outbox_claimable")
        conn.execute("ALTER TABLE outbox DROP COLUMN claimed_by")
        conn.execute("ALTER TABLE outbox DROP COLUMN claimed_until")
        conn.execute("PRAGMA user_version = 1")


async def test_a_version_1_file_is_upgraded_in_place_with_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    async with SqliteStore(path) as store:
        run = await make_run(store)
        [task] = await store.create_tasks([new_task(run.id)])
    fresh = _columns(path), _indexes(path)
    _downgrade_to_version_1(path)
    stores = await asyncio.gather(*(open_sqlite(path) for _ in range(3)))  # racing openers upgrade once
    try:
        [row] = await stores[0].claim_outbox("relay-a")
        assert (row.task_id, row.claimed_by) == (task.id, "relay-a")
        assert await stores[1].claim_outbox("relay-b") == []
    finally:
        for s in stores:
            await s.close()
    assert (_columns(path), _indexes(path)) == fresh
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
