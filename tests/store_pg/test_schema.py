"""The schema keeps the rules of ideamine.enums and the ledger's append-only promise."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import asyncpg  # type: ignore[import-untyped]
import pytest

from tests.store.schema_facts import ENUM_COLUMNS

pytestmark = pytest.mark.postgres


@pytest.fixture
async def conn(migrated_db: str) -> AsyncIterator[asyncpg.Connection]:
    c = await asyncpg.connect(migrated_db)
    try:
        yield c
    finally:
        await c.close()


async def _check_values(conn: asyncpg.Connection, table: str, column: str) -> set[str]:
    """The string literals of the CHECK constraint(s) on one column."""
    rows = await conn.fetch(
        """SELECT pg_get_constraintdef(c.oid) AS def
           FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)
           WHERE c.contype = 'c' AND c.conrelid = $1::regclass AND a.attname = $2""",
        table,
        column,
    )
    assert rows, f"no CHECK constraint on {table}.{column}"
    return {v for r in rows for v in re.findall(r"'([^']*)'::text", r["def"])}


@pytest.mark.parametrize(("table", "column"), sorted(ENUM_COLUMNS))
async def test_status_check_lists_equal_the_enums(conn: asyncpg.Connection, table: str, column: str) -> None:
    assert await _check_values(conn, table, column) == {m.name for m in ENUM_COLUMNS[(table, column)]}


async def test_every_status_column_is_covered(conn: asyncpg.Connection) -> None:
    """A new status/decision/policy column cannot slip in without being compared above."""
    rows = await conn.fetch(
        """SELECT table_name, column_name FROM information_schema.columns
           WHERE table_schema = 'public' AND column_name IN ('status', 'decision', 'policy')"""
    )
    found = {(r["table_name"], r["column_name"]) for r in rows}
    free_text = {("llm_calls", "status"), ("agent_hosts", "status")}  # not enums: "ok"/"error", "UP"/…
    assert found - free_text == set(ENUM_COLUMNS)


async def test_check_constraint_rejects_an_unknown_status(conn: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.CheckViolationError):
        await conn.execute(
            """INSERT INTO runs (id, tenant, title, idea, phases, policy, status, created_at, updated_at)
               VALUES (gen_random_uuid(), 't', 't', '{}', '{}', 'AUTONOMOUS', 'EXPLODED', now(), now())"""
        )


async def test_every_id_column_is_uuid(conn: asyncpg.Connection) -> None:
    rows = await conn.fetch(
        """SELECT table_name, column_name, data_type, udt_name FROM information_schema.columns
           WHERE table_schema = 'public' AND (column_name = 'id' OR column_name LIKE '%\\_id' OR column_name LIKE '%\\_ids')
             AND table_name <> 'outbox'"""
    )
    assert rows
    wrong = [(r["table_name"], r["column_name"]) for r in rows if r["udt_name"] not in ("uuid", "_uuid")]
    assert wrong == []


@pytest.mark.parametrize(
    "statement",
    ["UPDATE ledger SET type = 'forged'", "DELETE FROM ledger", "TRUNCATE ledger"],
)
async def test_ledger_rejects_changes(conn: asyncpg.Connection, statement: str) -> None:
    run_id = await conn.fetchval(
        """INSERT INTO runs (id, tenant, title, idea, phases, policy, status, created_at, updated_at)
           VALUES (gen_random_uuid(), 't', 't', '{}', '{}', 'AUTONOMOUS', 'PENDING', now(), now()) RETURNING id"""
    )
    await conn.execute(
        """INSERT INTO ledger (run_id, seq, type, payload, prev_hash, hash, created_at)
           VALUES ($1, 1, 'run.created', '{}', repeat('0', 64), repeat('a', 64), now())""",
        run_id,
    )
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await conn.execute(statement)
    assert await conn.fetchval("SELECT type FROM ledger WHERE run_id = $1", run_id) == "run.created"
