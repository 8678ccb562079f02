"""``ideamine migrate`` and ``ideamine ledger verify`` as a user runs them (a real subprocess)."""

from __future__ import annotations

import subprocess
import sys

import asyncpg  # type: ignore[import-untyped]
import pytest

from ideamine.ids import new_id
from ideamine.store.postgres import PostgresRunStore
from ideamine.store.records import BudgetLimits, Event, NewRun

pytestmark = pytest.mark.postgres


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ideamine.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def _run_with_events(url: str, n: int) -> str:
    store = PostgresRunStore(url)
    await store.open()
    try:
        run = await store.create_run(
            NewRun(tenant="t", title="x", idea={"text": "x"}, phases=("intake",), budget=BudgetLimits()),
            events=[Event("run.created", {"i": 0})],
        )
        for i in range(1, n):
            await store.append_events(run.id, [Event("note", {"i": i}, phase="intake")])
        return run.id
    finally:
        await store.close()


async def test_migrate_command_applies_then_reports_up_to_date(empty_db: str) -> None:
    first = _cli("migrate", "--database-url", empty_db)
    assert first.returncode == 0, first.stderr
    assert "applied 0001_init" in first.stdout
    again = _cli("migrate", "--database-url", empty_db)
    assert again.returncode == 0
    assert "up to date" in again.stdout


async def test_migrate_command_refuses_a_newer_database_with_exit_2(migrated_db: str) -> None:
    conn = await asyncpg.connect(migrated_db)
    try:
        await conn.execute("INSERT INTO schema_migrations VALUES (42, 'future', 'x', now())")
    finally:
        await conn.close()
    proc = _cli("migrate", "--database-url", migrated_db)
    assert proc.returncode == 2
    assert "0042_future" in proc.stderr
    assert "Traceback" not in proc.stderr


async def test_ledger_verify_ok_then_broken_at_the_tampered_row(migrated_db: str) -> None:
    run_id = await _run_with_events(migrated_db, 5)
    ok = _cli("ledger", "verify", run_id, "--database-url", migrated_db)
    assert ok.returncode == 0, ok.stderr
    assert "OK (5 rows)" in ok.stdout

    conn = await asyncpg.connect(migrated_db)
    try:
        await conn.execute("ALTER TABLE ledger DISABLE TRIGGER USER")
        await conn.execute(
            """UPDATE ledger SET payload = '{"i": 999}' WHERE run_id = $1::uuid AND seq = 3""", run_id
        )
    finally:
        await conn.close()
    broken = _cli("ledger", "verify", run_id, "--database-url", migrated_db)
    assert broken.returncode == 1
    assert "BROKEN at seq 3" in broken.stdout
    assert "seq=3 type=note" in broken.stdout  # the first bad row is printed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["not-a-uuid"], "not a run id"),
        ([new_id()], "not found"),
    ],
)
async def test_ledger_verify_bad_input_exits_2(migrated_db: str, args: list[str], message: str) -> None:
    proc = _cli("ledger", "verify", *args, "--database-url", migrated_db)
    assert proc.returncode == 2
    assert message in proc.stderr


def test_unsupported_url_exits_2() -> None:
    proc = _cli("migrate", "--database-url", "mysql://localhost/x")
    assert proc.returncode == 2
    assert "unsupported database URL" in proc.stderr
