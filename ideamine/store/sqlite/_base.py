"""The SQLite connection, its transactions, and the helpers every table mixin uses.

One store instance owns one SQLite connection. Every operation takes the
instance's lock and runs in its own transaction; writes use ``BEGIN IMMEDIATE`` so
the write lock is taken up front. That is the single-writer equivalent of
PostgreSQL's row locks and ``SKIP LOCKED``: two writers — coroutines of one store, or
two stores (processes) on the same file — never interleave a read-check-write, and a
second process waits on ``busy_timeout`` instead of failing.

Where each call runs. Only the calls that can *wait* go to the connection's own
thread: taking the write lock (``BEGIN IMMEDIATE`` may wait up to ``busy_timeout`` for
another connection's writer) and ``COMMIT`` (the fsync of ``synchronous=FULL``). The
statements in between run on the caller's thread: under the write lock, or on a WAL
read snapshot, they never wait for a lock and take microseconds, whereas a thread hop
per statement (a queue put, a GIL hand-over and a loop wake-up each) cost more than
the statements themselves. Durability is unchanged: every write commits with a full
fsync before its call returns — writers queued at the same moment share that COMMIT
(group commit, ``_group.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from ideamine.errors import NotFound, StoreUnavailable
from ideamine.store._shared import dumps, to_iso, utcnow
from ideamine.store.ledger import GENESIS_HASH, row_hash
from ideamine.store.records import Event, LedgerRecord, OutboxRecord
from ideamine.store.sqlite._group import GroupCommit
from ideamine.store.written_outbox import WrittenOutbox

__all__ = ["Connection", "SqliteBase", "Tx", "SCHEMA_SQL", "SCHEMA_VERSION", "connect", "marks", "where"]

#: the schema script (tables, indexes, triggers, FTS) applied to a new file
SCHEMA_SQL: str = resources.files("ideamine.store").joinpath("sqlite_schema.sql").read_text("utf-8")

_version = re.search(r"PRAGMA\s+user_version\s*=\s*(\d+)", SCHEMA_SQL)
if _version is None:  # pragma: no cover - the packaged file always sets it
    raise RuntimeError("sqlite_schema.sql does not set PRAGMA user_version")
#: the schema version this code reads and writes (``PRAGMA user_version`` of the file)
SCHEMA_VERSION: int = int(_version.group(1))

#: in-place upgrades of an existing file: version → the statements that bring it to
#: version + 1 (the same change as the PostgreSQL migration of that number; a new file
#: gets :data:`SCHEMA_SQL`, which already has it)
UPGRADES: dict[int, tuple[str, ...]] = {
    1: (  # migrations/0002_outbox_claims.sql
        "ALTER TABLE outbox ADD COLUMN claimed_by TEXT",
        "ALTER TABLE outbox ADD COLUMN claimed_until TEXT",
        "CREATE INDEX outbox_claimable ON outbox (id) WHERE published_at IS NULL",
    ),
    2: (  # migrations/0003_indexes.sql
        "DROP INDEX outbox_unpublished",
        "DROP INDEX tasks_idempotency_key",
        "DROP INDEX timers_due",
        "CREATE INDEX timers_unfired ON timers (fire_at) WHERE fired_at IS NULL",
    ),
}

#: how long a writer waits for another process's write lock before giving up (ms)
BUSY_TIMEOUT_MS = 30_000

_T = TypeVar("_T")


def _param(value: Any) -> Any:
    """Convert a Python value to what the schema stores (see sqlite_schema.sql)."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return to_iso(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dict | list | tuple):
        return dumps(list(value) if isinstance(value, tuple) else value)
    return value


def marks(values: Sequence[Any]) -> str:
    """``?, ?, ?`` for an ``IN (...)`` list of ``values``."""
    return ", ".join("?" for _ in values)


def where(filters: Mapping[str, Any], *always: str) -> tuple[str, list[Any]]:
    """A WHERE condition from optional filters, so listings never build SQL by hand.

    Each ``column: value`` pair becomes ``column = ?``; a list or tuple value becomes
    ``column IN (...)``; a key with its own operator (``"id <"``) is used as written.
    ``None`` values and empty sequences mean "no filter". ``always`` conditions are
    added as they are.
    """
    clauses, params = list(always), list[Any]()
    for column, value in filters.items():
        if value is None or (isinstance(value, list | tuple) and not value):
            continue
        if isinstance(value, list | tuple):
            clauses.append(f"{column} IN ({marks(value)})")
            params.extend(value)
        else:
            clauses.append(f"{column} ?" if " " in column else f"{column} = ?")
            params.append(value)
    return " AND ".join(clauses) or "1 = 1", params


class Connection:
    """One ``sqlite3`` connection: quick statements inline, waiting calls on its own thread.

    Never used by two threads at once: the store's lock admits one transaction at a
    time, and :meth:`offload` waits for its call to finish even when its caller is
    cancelled.
    """

    def __init__(self, raw: sqlite3.Connection, executor: ThreadPoolExecutor) -> None:
        self.raw = raw
        self._executor = executor

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open on the connection."""
        return self.raw.in_transaction

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """Run a statement here and now."""
        return self.raw.execute(sql, params)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Run a query here and now; every row."""
        return self.raw.execute(sql, params).fetchall()

    async def offload(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run ``fn(*args)`` on the connection's thread; a cancelled caller still waits for it."""
        future = asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        cancelled = False
        while True:
            try:
                result = await asyncio.shield(future)
                break
            except asyncio.CancelledError:
                if future.done():
                    raise
                cancelled = True  # the call runs on regardless: never leave it half-way
        if cancelled:
            raise asyncio.CancelledError
        return result

    async def begin_write(self) -> None:
        """``BEGIN IMMEDIATE``: here when the write lock is free, else wait for it on the thread.

        Waiting here would block the event loop — and deadlock when the writer holding
        the lock is another store of this very process.
        """
        raw = self.raw
        raw.execute("PRAGMA busy_timeout = 0")
        try:
            raw.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                raise
        finally:
            raw.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        await self.offload(raw.execute, "BEGIN IMMEDIATE")

    async def commit_write(self) -> None:
        """``COMMIT`` a write transaction: the fsync, on the thread."""
        await self.offload(self.raw.execute, "COMMIT")

    async def execute_fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Run a query on the connection's thread (for a statement that may wait on a lock)."""
        return await self.offload(self.rows, sql, params)

    async def close(self) -> None:
        """Close the connection and stop its thread."""
        try:
            await self.offload(self.raw.close)
        finally:
            self._executor.shutdown(wait=False)


async def connect(path: str) -> Connection:
    """Open ``path`` in autocommit mode (transactions are explicit) on a fresh thread."""
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ideamine-sqlite")
    try:
        raw = await asyncio.get_running_loop().run_in_executor(
            executor, lambda: sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        )
    except BaseException:
        executor.shutdown(wait=False)
        raise
    raw.row_factory = sqlite3.Row
    return Connection(raw, executor)


class Tx:
    """One open transaction: small query helpers that convert parameters and rows.

    The helpers are coroutines for the mixins' sake; each runs its statement at once
    (see the module docstring).
    """

    def __init__(self, conn: Connection, now: datetime, written: WrittenOutbox | None = None) -> None:
        self._conn = conn
        #: the transaction's clock: every time it writes is this instant
        self.now = now
        self._written = written
        #: outbox rows this transaction inserted (the store keeps them for its relay once committed)
        self.outbox_rows: list[OutboxRecord] = []

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Every row of a query, as dicts."""
        return [dict(r) for r in self._conn.rows(sql, [_param(p) for p in params])]

    async def one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        """The first row of a query, or None."""
        row = self._conn.execute(sql, [_param(p) for p in params]).fetchone()
        return None if row is None else dict(row)

    async def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Execute a statement; returns the number of rows it changed."""
        return self._conn.execute(sql, [_param(p) for p in params]).rowcount

    async def insert(self, table: str, values: Mapping[str, Any]) -> int | None:
        """INSERT one row from a column → value mapping; returns its rowid."""
        cols = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        cursor = self._conn.execute(
            f"INSERT INTO {table} ({cols}) VALUES ({marks})", [_param(v) for v in values.values()]
        )
        return cursor.lastrowid

    async def update(self, table: str, values: Mapping[str, Any], where: str, params: Sequence[Any]) -> int:
        """UPDATE ``table`` SET the given columns WHERE ``where``; returns rows changed."""
        sets = ", ".join(f"{c} = ?" for c in values)
        return await self.run(f"UPDATE {table} SET {sets} WHERE {where}", [*values.values(), *params])

    async def get(self, table: str, ident: str, *, what: str) -> dict[str, Any]:
        """The row of ``table`` with primary key ``id``; NotFound when missing."""
        row = await self.one(f"SELECT * FROM {table} WHERE id = ?", (ident,))
        if row is None:
            raise NotFound(f"{what} {ident} not found", id=ident)
        return row

    async def append_events(self, run_id: str, events: Sequence[Event]) -> list[LedgerRecord]:
        """Chain ``events`` onto the run's ledger inside this transaction.

        The seq and the previous hash come from the run's ``ledger_heads`` row, read and
        written in the same (immediate) transaction, so concurrent appends cannot fork
        the chain or reuse a number.
        """
        if not events:
            return []
        head = await self.one("SELECT last_seq, last_hash FROM ledger_heads WHERE run_id = ?", (run_id,))
        seq, prev = (int(head["last_seq"]), str(head["last_hash"])) if head else (0, GENESIS_HASH)
        records: list[LedgerRecord] = []
        for event in events:
            seq += 1
            row: dict[str, Any] = {
                "run_id": run_id,
                "seq": seq,
                "type": event.type,
                "phase": event.phase,
                "task_id": event.task_id,
                "payload": dict(event.payload),
                "created_at": self.now,
            }
            digest = row_hash(prev, row)
            await self.insert("ledger", {**row, "prev_hash": prev, "hash": digest})
            records.append(LedgerRecord(prev_hash=prev, hash=digest, **row))
            prev = digest
        await self.run(
            "INSERT INTO ledger_heads (run_id, last_seq, last_hash) VALUES (?, ?, ?) "
            "ON CONFLICT (run_id) DO UPDATE SET last_seq = excluded.last_seq, last_hash = excluded.last_hash",
            (run_id, seq, prev),
        )
        return records

    async def outbox(self, topic: str, task_id: str | None, payload: Mapping[str, Any]) -> None:
        """Queue a message for the publisher, committed with the state change it announces.

        Claimed at once for this process's relay when it asked for that
        (:mod:`ideamine.store.written_outbox`).
        """
        claimed_by, until = self._written.claim(self.now) if self._written else (None, None)
        body = dict(payload)
        ident = await self.insert(
            "outbox",
            {
                "topic": topic,
                "task_id": task_id,
                "payload": body,
                "created_at": self.now,
                "claimed_by": claimed_by,
                "claimed_until": until,
            },
        )
        self.outbox_rows.append(
            OutboxRecord(int(ident or 0), topic, task_id, body, self.now, claimed_by, claimed_until=until)
        )


class SqliteBase:
    """Connection lifecycle and transactions; the table mixins build on :meth:`_tx`."""

    def __init__(self, path: str | Path) -> None:
        self._path = str(path)
        self._conn: Connection | None = None
        #: one transaction at a time on the one connection; queued writers share a COMMIT
        self._commits = GroupCommit()
        #: committed outbox rows claimed for this process's relay (off until it asks)
        self._written = WrittenOutbox()

    @property
    def path(self) -> str:
        """The database file."""
        return self._path

    async def open(self) -> None:
        """Open the file, creating the schema when it is new; refuse another schema version."""
        if self._conn is not None:
            return
        try:
            conn = await connect(self._path)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open SQLite database {self._path}: {exc}") from exc
        try:
            await conn.offload(_configure, conn.raw)
            await self._ensure_schema(conn)
        except BaseException:
            await conn.close()
            raise
        self._conn = conn

    async def _ensure_schema(self, conn: Connection) -> None:
        version = await _user_version(conn)
        if version == 0:
            if not await conn.execute_fetchall("SELECT name FROM sqlite_master WHERE type = 'table'"):
                await conn.offload(_create_schema, conn.raw)
            # read again either way: tables found here may be another opener's schema that
            # committed after our first read (its version was still 0 then)
            version = await _user_version(conn)
        if 0 < version < SCHEMA_VERSION:
            version = await _upgrade(conn, version)
        if version != SCHEMA_VERSION:
            raise StoreUnavailable(
                f"{self._path} is not an IdeaMine SQLite database of schema version {SCHEMA_VERSION} "
                f"(found version {version}); refusing to open it",
                retryable=False,
                path=self._path,
                found=version,
                expected=SCHEMA_VERSION,
            )

    async def close(self) -> None:
        """Close the connection; calling it again does nothing."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await self._commits.flush(conn)
            finally:
                await conn.close()

    async def ping(self) -> bool:
        """Whether the database answers."""
        if self._conn is None:
            return False
        try:
            async with self._tx(write=False) as tx:
                return await tx.one("SELECT 1 AS ok") is not None
        except StoreUnavailable:
            return False

    @contextlib.asynccontextmanager
    async def _tx(self, *, write: bool = True) -> AsyncIterator[Tx]:
        """One transaction: committed when the block exits normally, else rolled back.

        A write block runs alone under the store's lock, inside a savepoint; writers
        queued behind it may share its COMMIT (group commit, see ``_group.py``). Either
        way the block's exit returns only once that COMMIT is durable.

        Raises:
            StoreUnavailable: the store is closed or SQLite failed (locked, I/O error);
                nothing was written.
        """
        conn = self._conn
        if conn is None:
            raise StoreUnavailable("the SQLite store is not open")
        if write:
            tx = Tx(conn, utcnow(), self._written)
            async with self._commits.write(conn):
                yield tx
            self._written.add(tx.outbox_rows)  # durable now: the relay may publish them
        else:
            async with self._commits.read(conn):
                yield Tx(conn, utcnow())


def _configure(raw: sqlite3.Connection) -> None:
    raw.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    _enable_wal(raw)
    raw.execute("PRAGMA synchronous = FULL")
    raw.execute("PRAGMA foreign_keys = ON")


def _enable_wal(raw: sqlite3.Connection) -> None:
    """Switch the file to WAL, waiting out other connections doing the same.

    The switch reads the file and then needs it exclusively. Two connections opening a
    new file at once both hold the read lock when they ask for more, and SQLite answers
    one of them "database is locked" at once — without the busy handler, which would
    deadlock — so ``busy_timeout`` does not help here: retry, briefly, on this thread.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    delay = 0.001
    while True:
        try:
            raw.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)  # the connection's own thread (offload), never the event loop
        delay = min(delay * 2, 0.1)


def _create_schema(raw: sqlite3.Connection) -> None:
    try:
        raw.executescript(f"BEGIN IMMEDIATE;\n{SCHEMA_SQL}\nCOMMIT;")
    except sqlite3.OperationalError:
        # another process created it between our check and our write lock
        if raw.in_transaction:
            raw.execute("ROLLBACK")


async def _upgrade(conn: Connection, version: int) -> int:
    """Apply :data:`UPGRADES` from ``version`` on, each step in one immediate transaction.

    The version is read again under the write lock, so two processes opening one old
    file upgrade it once. Returns the version reached (unchanged when no step is known,
    and the caller refuses the file).
    """
    while version in UPGRADES:
        await conn.execute_fetchall("BEGIN IMMEDIATE")
        try:
            if await _user_version(conn) == version:  # else another process did this step
                for statement in UPGRADES[version]:
                    await conn.execute_fetchall(statement)
                await conn.execute_fetchall(f"PRAGMA user_version = {version + 1}")
            await conn.execute_fetchall("COMMIT")
        except BaseException:
            if conn.in_transaction:
                await conn.execute_fetchall("ROLLBACK")
            raise
        version = await _user_version(conn)
    return version


async def _user_version(conn: Connection) -> int:
    rows = await conn.execute_fetchall("PRAGMA user_version")
    return int(rows[0][0])
