"""Group commit: writers queued behind each other share one ``COMMIT`` — one fsync.

With ``synchronous=FULL`` every commit waits for an fsync of the WAL (1.5–2.5 ms here,
more under load), and that wait, not the statements, is what a write costs. While one
commit's fsync runs (on the connection's thread), other writers queue on the store's
lock. Instead of one transaction (and one fsync) each, the queue is served like this:

- The first writer opens the transaction (``BEGIN IMMEDIATE``). Each writer's block
  runs alone under the lock, inside its own ``SAVEPOINT``: it sees everything written
  before it, exactly as in serial transactions, and an exception rolls back its own
  writes only.
- After its block a writer looks at the queue: if another writer is waiting it leaves
  the transaction open for that one and waits; the last writer of the queue commits,
  and every member learns the outcome of that one ``COMMIT``.
- No call returns before the ``COMMIT`` covering its writes is durable, so what a caller
  sees acknowledged is on disk, as before; a failed ``COMMIT`` fails every member with
  :class:`~ideamine.errors.StoreUnavailable` and nothing of theirs was written.
- A reader never sees writes that are not yet durable: it commits an open batch first.

Batches are bounded (:data:`MAX_MEMBERS`) so a steady stream of writers cannot hold the
transaction open for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from ideamine.errors import StoreUnavailable

if TYPE_CHECKING:
    from ideamine.store.sqlite._base import Connection

__all__ = ["GroupCommit", "MAX_MEMBERS"]

#: the most writers one COMMIT covers
MAX_MEMBERS = 64


class _Batch:
    """One open write transaction and the writers it holds."""

    def __init__(self) -> None:
        self.members = 0
        self.settled = asyncio.Event()
        self.error: str | None = None

    def settle(self, error: str | None) -> None:
        self.error = error
        self.settled.set()


class GroupCommit:
    """Serialises transactions on one connection; queued writers share a COMMIT.

    Lifecycle: one per store; :meth:`read` and :meth:`write` wrap each transaction's
    block; :meth:`flush` (e.g. before closing) commits an open batch.
    """

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._writers_waiting = 0
        self._batch: _Batch | None = None
        self._background: set[asyncio.Task[None]] = set()

    @contextlib.asynccontextmanager
    async def read(self, conn: Connection) -> AsyncIterator[None]:
        """A read transaction on a WAL snapshot, after any open batch is durable."""
        async with self._lock:
            await self._commit(conn)
            try:
                conn.execute("BEGIN")
                yield
                conn.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                _rollback(conn)
                raise StoreUnavailable(f"SQLite error: {exc}") from exc
            except BaseException:
                _rollback(conn)
                raise

    @contextlib.asynccontextmanager
    async def write(self, conn: Connection) -> AsyncIterator[None]:
        """A writer's block in the open batch; returns once the batch's COMMIT is durable."""
        self._writers_waiting += 1
        try:
            await self._lock.acquire()
        except BaseException:
            self._writers_waiting -= 1
            self._unstrand(conn)
            raise
        self._writers_waiting -= 1
        held = True  # the lock, until _pass_on takes over releasing it
        try:
            batch = await self._join(conn)
            try:
                yield
            except sqlite3.OperationalError as exc:
                # the transaction itself may be gone (I/O error, disk full): fail the whole batch
                raise self._fail(conn, exc) from exc
            except BaseException:
                try:
                    conn.execute("ROLLBACK TO member")
                    conn.execute("RELEASE member")
                except sqlite3.Error as exc:
                    raise self._fail(conn, exc) from exc
                held = False
                with contextlib.suppress(Exception):  # the members learn a failed COMMIT from the batch
                    await self._pass_on(conn, batch)
                raise
            try:
                conn.execute("RELEASE member")
            except sqlite3.Error as exc:
                raise self._fail(conn, exc) from exc
            batch.members += 1
            held = False
            await self._pass_on(conn, batch)
        finally:
            if held:
                self._lock.release()
        await batch.settled.wait()
        if batch.error is not None:
            raise StoreUnavailable(batch.error)

    async def _join(self, conn: Connection) -> _Batch:
        """The open batch (opened now if none), with a savepoint for this writer (lock held)."""
        try:
            if self._batch is None:
                try:
                    await conn.begin_write()
                except BaseException:  # cancelled while it waited: it may have begun regardless
                    with contextlib.suppress(sqlite3.Error):
                        _rollback(conn)
                    raise
                self._batch = _Batch()
            conn.execute("SAVEPOINT member")
        except sqlite3.Error as exc:
            raise self._fail(conn, exc) from exc
        return self._batch

    async def flush(self, conn: Connection) -> None:
        """Commit the open batch, if any."""
        async with self._lock:
            await self._commit(conn)

    async def _pass_on(self, conn: Connection, batch: _Batch) -> None:
        """Leave the batch to the next queued writer, or commit it; releases the lock."""
        try:
            if not (self._writers_waiting and batch.members < MAX_MEMBERS):
                await self._commit(conn)
        finally:
            self._lock.release()

    async def _commit(self, conn: Connection) -> None:
        """COMMIT the open batch (lock held) and tell its members."""
        batch, self._batch = self._batch, None
        if batch is None:
            return
        if batch.members == 0:  # every block in it failed: nothing to keep
            _rollback(conn)
            batch.settle(None)
            return
        try:
            await conn.commit_write()
        except asyncio.CancelledError:
            # the COMMIT ran to its end regardless; the connection says how it went
            self._settle_after(conn, batch)
            raise
        except sqlite3.Error as exc:
            _rollback(conn)
            batch.settle(f"SQLite error: {exc}")
            raise StoreUnavailable(f"SQLite error: {exc}") from exc
        batch.settle(None)

    def _settle_after(self, conn: Connection, batch: _Batch) -> None:
        if conn.in_transaction:
            _rollback(conn)
            batch.settle("SQLite error: the commit did not complete")
        else:
            batch.settle(None)

    def _fail(self, conn: Connection, exc: sqlite3.Error) -> StoreUnavailable:
        """Roll the whole open batch back (lock held): every member fails; the error to raise."""
        error = f"SQLite error: {exc}"
        batch, self._batch = self._batch, None
        with contextlib.suppress(sqlite3.Error):
            _rollback(conn)
        if batch is not None:
            batch.settle(error)
        return StoreUnavailable(error)

    async def _flush_quietly(self, conn: Connection) -> None:
        with contextlib.suppress(StoreUnavailable):  # the batch's members get the error
            await self.flush(conn)

    def _unstrand(self, conn: Connection) -> None:
        """A queued writer gave up: if a batch was left open for it, commit it in the background."""
        if self._batch is None:
            return
        task = asyncio.get_running_loop().create_task(self._flush_quietly(conn), name="sqlite-group-commit")
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def _rollback(conn: Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")
