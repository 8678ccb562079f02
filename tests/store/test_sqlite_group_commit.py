"""SQLite group commit: writers queued at once share a COMMIT, and lose none of their rules.

What must hold (see ``ideamine/store/sqlite/_group.py``): every write is durable when
its call returns (a second connection sees it at once, and it survives reopening); one
failing writer rolls back only its own writes; the ledger chain stays valid; a reader
never waits forever behind an open batch; and queued writers really share commits.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from ideamine.errors import Conflict
from ideamine.store.records import Event
from ideamine.store.sqlite import SqliteStore, open_sqlite
from ideamine.store.sqlite._base import Connection
from tests.store.conftest import make_run


def _count_events(path: Path, run_id: str) -> int:
    """Committed ledger rows, read through a separate connection (what a crash would keep)."""
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM ledger WHERE run_id = ?", (run_id,)).fetchone()[0])


async def test_concurrent_writers_share_commits_and_each_is_durable_on_return(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "g.db"
    commits = 0
    real_commit = Connection.commit_write

    async def counting(self: Connection) -> None:
        nonlocal commits
        commits += 1
        await real_commit(self)

    monkeypatch.setattr(Connection, "commit_write", counting)
    async with SqliteStore(path) as store:
        run = await make_run(store)
        before = _count_events(path, run.id)
        commits = 0

        async def append(i: int) -> None:
            await store.append_events(run.id, [Event("test.event", {"i": i})])
            # returned → committed: another connection sees it now
            assert _count_events(path, run.id) >= before + 1

        await asyncio.gather(*(append(i) for i in range(40)))
        assert _count_events(path, run.id) == before + 40
        assert 1 <= commits < 40
        assert (await store.verify_ledger(run.id)).ok
        seqs = [e.seq for e in await store.list_events(run.id, limit=1000)]
        assert seqs == list(range(1, len(seqs) + 1))
    async with SqliteStore(path) as again:
        assert (await again.verify_ledger(run.id)).ok
        assert len(await again.list_events(run.id, limit=1000)) == before + 40


async def test_a_failing_writer_rolls_back_only_its_own_writes(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    async with SqliteStore(path) as store:
        run = await make_run(store)
        before = _count_events(path, run.id)

        async def conflicting() -> None:
            async with store._tx() as tx:
                await tx.append_events(run.id, [Event("test.doomed")])
                raise Conflict("this writer gives up after writing")

        async def good(i: int) -> None:
            await store.append_events(run.id, [Event("test.kept", {"i": i})])

        results = await asyncio.gather(
            good(0), conflicting(), good(1), conflicting(), good(2), return_exceptions=True
        )
        assert [type(r) for r in results] == [type(None), Conflict, type(None), Conflict, type(None)]
        events = await store.list_events(run.id, limit=1000)
        assert [e.type for e in events[before:]] == ["test.kept"] * 3
        assert (await store.verify_ledger(run.id)).ok
        assert _count_events(path, run.id) == before + 3


async def test_reads_and_writes_interleaved_see_only_committed_state(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    async with SqliteStore(path) as store:
        run = await make_run(store)
        before = _count_events(path, run.id)

        async def write(i: int) -> None:
            await store.append_events(run.id, [Event("test.event", {"i": i})])

        async def read() -> int:
            seen = len(await store.list_events(run.id, limit=1000))
            assert seen <= _count_events(path, run.id)  # never ahead of what is on disk
            return seen

        jobs = [write(i) if i % 3 else read() for i in range(30)]
        await asyncio.wait_for(asyncio.gather(*jobs), timeout=60)
        assert _count_events(path, run.id) == before + 20


async def _until(condition: Callable[[], bool]) -> None:
    """Let other tasks run until ``condition`` holds (scheduling steps, not a timed wait)."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


async def test_a_writer_cancelled_in_the_queue_does_not_strand_the_batch(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    store = await open_sqlite(path)
    commits = store._commits
    try:
        run = await make_run(store)
        before = _count_events(path, run.id)
        gate = asyncio.Event()

        async def holder() -> None:
            async with store._tx() as tx:
                await tx.append_events(run.id, [Event("test.holder")])
                await gate.wait()

        held = asyncio.create_task(holder())
        await _until(commits._lock.locked)
        queued = asyncio.create_task(store.append_events(run.id, [Event("test.queued")]))
        await _until(lambda: commits._writers_waiting == 1)
        gate.set()
        # the holder leaves its batch open for the queued writer and waits for its COMMIT...
        await _until(lambda: not commits._lock.locked())
        queued.cancel()  # ...which gives up before taking the lock
        await asyncio.wait_for(held, timeout=60)
        with pytest.raises(asyncio.CancelledError):
            await queued
        assert _count_events(path, run.id) == before + 1
        assert [e.type for e in await store.list_events(run.id, limit=1000)][before:] == ["test.holder"]
    finally:
        await store.close()


async def test_a_writer_whose_statement_fails_leaves_the_store_usable(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    async with SqliteStore(path) as store:
        run = await make_run(store)
        before = _count_events(path, run.id)

        async def duplicate() -> None:
            async with store._tx() as tx:
                await tx.append_events(run.id, [Event("test.doomed")])
                await tx.run(
                    "INSERT INTO ledger_heads (run_id, last_seq, last_hash) VALUES (?, 0, '')", (run.id,)
                )

        results = await asyncio.gather(
            store.append_events(run.id, [Event("test.kept")]), duplicate(), return_exceptions=True
        )
        assert isinstance(results[1], sqlite3.IntegrityError)
        await asyncio.wait_for(store.append_events(run.id, [Event("test.after")]), timeout=60)
        assert [e.type for e in await store.list_events(run.id, limit=1000)][before:] == [
            "test.kept",
            "test.after",
        ]
        assert (await store.verify_ledger(run.id)).ok
