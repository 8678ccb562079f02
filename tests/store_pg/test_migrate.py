"""Migrations: from empty, idempotent, forward-only, refusing unknown and edited history."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest

from ideamine.errors import StoreUnavailable
from ideamine.store.migrate import MIGRATIONS_DIR, MigrationError, check_schema, discover, migrate
from ideamine.store.postgres import PostgresRunStore

pytestmark = pytest.mark.postgres

#: every table the store needs (DESIGN §7)
CORE_TABLES = {
    "runs",
    "phase_executions",
    "tasks",
    "task_results",
    "artifacts",
    "ledger",
    "ledger_heads",
    "outbox",
    "timers",
    "checkpoints",
    "questions",
    "assumptions",
    "gate_evaluations",
    "waivers",
    "budget_scopes",
    "budget_reservations",
    "budget_events",
    "llm_calls",
    "agent_hosts",
    "run_leases",
    "schema_migrations",
}


def _copy_migrations(tmp_path: Path) -> Path:
    target = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, target)
    return target


def _next(offset: int = 0) -> str:
    """The version prefix of a migration after the repository's last one (plus ``offset``)."""
    return f"{discover()[-1].version + 1 + offset:04d}"


async def _tables(url: str) -> set[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {r["tablename"] for r in rows}
    finally:
        await conn.close()


async def _versions(url: str) -> list[int]:
    conn = await asyncpg.connect(url)
    try:
        return [
            r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
        ]
    finally:
        await conn.close()


async def test_migrates_an_empty_database(empty_db: str) -> None:
    applied = await migrate(empty_db)
    assert [m.version for m in applied] == [m.version for m in discover()]
    assert CORE_TABLES <= await _tables(empty_db)
    assert await _versions(empty_db) == [m.version for m in discover()]


async def test_rerun_is_a_no_op(migrated_db: str) -> None:
    before = await _versions(migrated_db)
    assert await migrate(migrated_db) == []
    assert await _versions(migrated_db) == before


async def test_concurrent_migrators_apply_each_migration_once(empty_db: str) -> None:
    results = await asyncio.gather(*(migrate(empty_db) for _ in range(3)))
    assert sorted(len(r) for r in results) == [0, 0, len(discover())]
    assert await _versions(empty_db) == [m.version for m in discover()]


async def test_applies_only_pending_migrations_in_order(migrated_db: str, tmp_path: Path) -> None:
    directory = _copy_migrations(tmp_path)
    (directory / f"{_next(1)}_third.sql").write_text("CREATE TABLE third (id int);\n")
    (directory / f"{_next()}_second.sql").write_text("CREATE TABLE second (id int);\n")
    applied = await migrate(migrated_db, directory=directory)
    assert [m.name for m in applied] == ["second", "third"]
    assert {"second", "third"} <= await _tables(migrated_db)


async def test_failed_migration_is_rolled_back_and_not_recorded(migrated_db: str, tmp_path: Path) -> None:
    directory = _copy_migrations(tmp_path)
    (directory / f"{_next()}_half.sql").write_text(
        "CREATE TABLE half (id int);\nSELECT no_such_function();\n"
    )
    with pytest.raises(asyncpg.UndefinedFunctionError):
        await migrate(migrated_db, directory=directory)
    assert "half" not in await _tables(migrated_db)
    assert int(_next()) not in await _versions(migrated_db)


async def test_refuses_a_database_with_an_unknown_newer_version(migrated_db: str) -> None:
    conn = await asyncpg.connect(migrated_db)
    try:
        await conn.execute(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (9999, 'future', 'x', now())"
        )
    finally:
        await conn.close()
    with pytest.raises(MigrationError, match="9999_future.*newer"):
        await migrate(migrated_db)
    store = PostgresRunStore(migrated_db)
    with pytest.raises(MigrationError, match="9999"):
        await store.open()


async def test_refuses_a_changed_checksum(migrated_db: str, tmp_path: Path) -> None:
    directory = _copy_migrations(tmp_path)
    first = sorted(directory.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- an innocent-looking edit\n")
    (directory / f"{_next()}_next.sql").write_text("CREATE TABLE next_one (id int);\n")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await migrate(migrated_db, directory=directory)
    assert "next_one" not in await _tables(migrated_db)  # nothing applied past the refusal


async def test_refuses_misnamed_and_duplicate_files(tmp_path: Path) -> None:
    (tmp_path / "1_bad.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="NNNN_name"):
        discover(tmp_path)
    (tmp_path / "1_bad.sql").unlink()
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0001_b.sql").write_text("SELECT 2;")
    with pytest.raises(MigrationError, match="two migration files"):
        discover(tmp_path)


async def test_store_refuses_an_unmigrated_database(empty_db: str) -> None:
    store = PostgresRunStore(empty_db)
    with pytest.raises(MigrationError, match="not migrated"):
        await store.open()
    conn = await asyncpg.connect(empty_db)
    try:
        with pytest.raises(MigrationError):
            await check_schema(conn)
    finally:
        await conn.close()


async def test_unreachable_server_is_store_unavailable() -> None:
    with pytest.raises(StoreUnavailable):
        await migrate("postgresql://postgres@127.0.0.1:1/nothing")
    store = PostgresRunStore("postgresql://postgres@127.0.0.1:1/nothing")
    with pytest.raises(StoreUnavailable):
        await store.open()
    assert await store.ping() is False


async def test_outbox_claims_migration_keeps_rows_and_makes_them_claimable(
    empty_db: str, tmp_path: Path
) -> None:
    only_init = tmp_path / "init"
    only_init.mkdir()
    shutil.copy(MIGRATIONS_DIR / "0001_init.sql", only_init)
    await migrate(empty_db, directory=only_init)
    conn = await asyncpg.connect(empty_db)
    try:
        await conn.execute("INSERT INTO outbox (topic, payload, created_at) VALUES ('notices', '{}', now())")
    finally:
        await conn.close()
    assert [m.name for m in await migrate(empty_db)][:1] == ["outbox_claims"]
    store = PostgresRunStore(empty_db)
    await store.open()
    try:
        [row] = await store.claim_outbox("relay-a")
        assert (row.topic, row.claimed_by) == ("notices", "relay-a")
    finally:
        await store.close()
