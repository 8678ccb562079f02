"""The PostgreSQL store's statements reach their rows through indexes, even planned early.

The store's sessions plan each prepared statement once (``plan_cache_mode =
force_generic_plan``) and keep that plan until the table is analyzed again. A plan made
while a table held a few rows — a fresh deployment, the first minute of a service — used
to be a sequential scan, kept while the table grew: creating 100 tasks then read every
task result ever committed. These tests make the generic plan of every statement
constant of ``ideamine.store.postgres`` on a database holding a handful of analyzed rows,
on a connection of the store's own pool (its session settings), and look for table scans.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import AsyncIterator

import pytest

from ideamine.ids import new_id
from ideamine.store.postgres import PostgresRunStore
from tests.store.conftest import Backend, _drop_database, _postgres_backend, make_run, new_task

pytestmark = pytest.mark.postgres

#: statements whose conditions no index can serve (none today)
WHOLE_TABLE_ALLOWED: frozenset[str] = frozenset()

_SQL = re.compile(r"^\s*(WITH|SELECT|UPDATE|INSERT|DELETE)\b", re.IGNORECASE)


def _statements() -> dict[str, str]:
    """Every module-level SQL constant (``_NAME = "SELECT ..."``) of the PostgreSQL store."""
    import ideamine.store.postgres as package

    found: dict[str, str] = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for name, value in vars(module).items():
            if name.startswith("_") and name.lstrip("_").replace("_", "").isupper():
                if isinstance(value, str) and _SQL.match(value) and "{" not in value:
                    found[f"{info.name}.{name}"] = value
    return found


STATEMENTS = _statements()


@pytest.fixture
async def small(pg_url: str) -> AsyncIterator[Backend]:
    """A migrated database with one run, a few tasks and one committed result, analyzed."""
    name = f"ideamine_plans_{new_id().replace('-', '')}"
    try:
        backend = await _postgres_backend(pg_url, name)
        store = backend.store
        run = await make_run(store)
        tasks = await store.create_tasks([new_task(run.id, key=f"t{i}") for i in range(3)])
        await store.commit_task_result(tasks[0].id, attempt=1, output={"ok": True}, artifacts=[])
        await backend.execute("ANALYZE")
        yield backend
        await store.close()
    finally:
        await _drop_database(pg_url, name)


async def _generic_plan(store: PostgresRunStore, sql: str) -> str:
    """EXPLAIN of the plan the store's session makes for ``sql`` (parameters unknown)."""

    async def explain(conn: object) -> str:
        prepared = await conn.prepare(sql)  # type: ignore[attr-defined]
        types = [
            await conn.fetchval("SELECT format_type($1::oid, NULL)", p.oid)  # type: ignore[attr-defined]
            for p in prepared.get_parameters()
        ]
        await conn.execute(f"PREPARE plan_probe ({', '.join(types)}) AS {sql}")  # type: ignore[attr-defined]
        try:
            nulls = ", ".join("NULL" for _ in types)
            rows = await conn.fetch(f"EXPLAIN EXECUTE plan_probe ({nulls})")  # type: ignore[attr-defined]
        finally:
            await conn.execute("DEALLOCATE plan_probe")  # type: ignore[attr-defined]
        return "\n".join(r[0] for r in rows)

    return await store._db.read(explain)


def test_the_store_has_statements_to_check() -> None:
    assert {"tasks._INSERT_TASKS", "journal._MARK_PUBLISHED", "results._FENCE_AND_CLAIM"} <= set(STATEMENTS)


@pytest.mark.parametrize("name", sorted(STATEMENTS))
async def test_no_statement_plans_a_table_scan(small: Backend, name: str) -> None:
    plan = await _generic_plan(small.store, STATEMENTS[name])  # type: ignore[arg-type]
    scanned = re.findall(r"Seq Scan on (\w+)", plan)
    if name not in WHOLE_TABLE_ALLOWED:
        assert not scanned, f"{name} reads whole tables {scanned}:\n{plan}"


async def test_marking_published_looks_rows_up_by_id(small: Backend) -> None:
    plan = await _generic_plan(small.store, STATEMENTS["journal._MARK_PUBLISHED"])  # type: ignore[arg-type]
    index = re.search(r"Index Scan using (\w+) on outbox", plan)
    assert index and index.group(1) in {"outbox_pkey", "outbox_claimable"}, plan
    assert "Index Cond: (id = ANY" in plan, plan
