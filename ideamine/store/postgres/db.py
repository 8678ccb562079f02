"""The asyncpg pool, its codecs, and the one place database errors are translated.

Every store method runs its SQL through :meth:`Database.transaction` (a function of one
connection inside one transaction) or :meth:`Database.read` (no explicit transaction).
That gives every method the same rules:

- a lost connection (:class:`asyncpg.PostgresConnectionError`, ``OSError``, an admin
  shutdown, a closed pool) becomes :class:`~ideamine.errors.StoreUnavailable`; PostgreSQL
  has already rolled the transaction back, so nothing is half-written. It is *not*
  retried here: the caller decides (its operation may have to be re-checked first);
- serialization failures, deadlocks and a lost race on an artifact version number are
  retried a bounded number of times with a short, capped backoff — the transaction
  was rolled back, so running the function again is safe;
- ``synchronous_commit`` is forced on for the session (DESIGN §3.4): whatever a method
  returns is durable — except :meth:`Database.relaxed`, a second small pool for outbox
  bookkeeping whose loss in a crash only repeats a publish;
- prepared statements (asyncpg caches them per connection) use generic plans, planned
  once per connection;
- outbox rows a transaction inserts (:func:`insert_outbox_rows`) are claimed for this
  process's relay when it asked for that, and handed to it once the transaction commits
  (:mod:`ideamine.store.written_outbox`).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from datetime import datetime
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]  # no stubs installed (asyncpg-stubs would fix)

from ideamine.errors import InvalidInput, StoreUnavailable
from ideamine.store._shared import dumps
from ideamine.store.records import OutboxRecord
from ideamine.store.written_outbox import WrittenOutbox

__all__ = ["Database", "Conn", "StoreBase", "insert_outbox_rows"]

#: an asyncpg connection (untyped: asyncpg ships no stubs)
Conn = Any

_T = TypeVar("_T")

#: how often a transaction that lost a serialization/deadlock race is re-run
MAX_RETRIES = 8

#: connections for :meth:`Database.relaxed` (outbox bookkeeping: short single statements)
RELAXED_POOL_SIZE = 2

#: SQLSTATE classes/codes meaning "the server or the link went away"
_UNAVAILABLE_STATES = ("08", "57P01", "57P02", "57P03", "53300")

#: unique constraints whose violation means "lost a race for a number; run it again"
_RETRY_CONSTRAINTS = frozenset({"artifacts_version_unique"})


async def _init_connection(conn: Conn) -> None:
    """Codecs every pooled connection gets: ids as str, JSON as dicts, numeric as float."""
    await conn.set_type_codec("uuid", schema="pg_catalog", encoder=str, decoder=str, format="text")
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, schema="pg_catalog", encoder=dumps, decoder=json.loads, format="text")
    # numeric holds money; repr(float) round-trips exactly through its decimal text
    await conn.set_type_codec("numeric", schema="pg_catalog", encoder=repr, decoder=float, format="text")


async def _reset_connection(conn: Conn) -> None:
    """What the pool does to a released connection: only end a transaction left open.

    asyncpg's default reset (advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL) costs one
    round trip per release — about a tenth of a task commit — to undo session state
    this store never creates (no advisory locks, cursors, listeners or SETs).
    """
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


class _Staged:
    """The outbox rows one transaction attempt inserted, kept only if it commits."""

    def __init__(self, written: WrittenOutbox) -> None:
        self.written = written
        self.rows: list[OutboxRecord] = []


#: the running transaction attempt's outbox rows (set by Database._retrying)
_STAGED: ContextVar[_Staged | None] = ContextVar("ideamine_staged_outbox", default=None)


async def insert_outbox_rows(
    conn: Conn, sql: str, params: Sequence[Any], rows: Sequence[tuple[str, str | None, Any]], now: datetime
) -> None:
    """Run an outbox insert inside :meth:`Database.transaction`; stage the rows it wrote.

    ``sql`` takes ``params``, then the claim (``claimed_by``, ``claimed_until``: NULL
    unless this process's relay asked for its writes), inserts ``rows`` — ``(topic,
    task_id, payload)``, each with ``created_at`` = ``now`` — and returns ``id, topic,
    task_id`` of each. The records are built here from what was sent: decoding every
    payload back cost an agent host about a tenth of its CPU.
    """
    staged = _STAGED.get()
    if staged is None:
        raise RuntimeError("outbox rows may only be written inside Database.transaction")
    claimed_by, until = staged.written.claim(now)
    inserted = await conn.fetch(sql, *params, claimed_by, until)
    if claimed_by is None:
        return  # nobody relays this store's own rows: the sweeps claim them
    payloads: dict[tuple[str, str | None], deque[Any]] = {}
    for topic, task_id, payload in rows:
        payloads.setdefault((topic, task_id), deque()).append(payload)
    for r in inserted:
        key = (r["topic"], r["task_id"])
        staged.rows.append(
            OutboxRecord(r["id"], key[0], key[1], payloads[key].popleft(), now, claimed_by, until)
        )


def _is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, asyncpg.SerializationError | asyncpg.DeadlockDetectedError):
        return True
    return isinstance(exc, asyncpg.UniqueViolationError) and exc.constraint_name in _RETRY_CONSTRAINTS


class Database:
    """An asyncpg pool plus the transaction runner every store method uses.

    Lifecycle: construct, :meth:`open` (creates the pool), use, :meth:`close`. Both are
    idempotent. Methods called before ``open`` or after ``close`` raise StoreUnavailable.
    """

    def __init__(self, dsn: str, *, min_size: int = 2, max_size: int = 10) -> None:
        self._dsn = dsn
        self._min_size = min_size
        self._max_size = max_size
        self._pool: asyncpg.Pool | None = None
        self._relaxed_pool: asyncpg.Pool | None = None
        #: committed outbox rows claimed for this process's relay (off until it asks)
        self.written = WrittenOutbox()

    async def open(self) -> None:
        """Create the pools (connecting ``min_size`` connections, and one relaxed one)."""
        if self._pool is not None:
            return
        try:
            self._pool = await self._create_pool(self._min_size, self._max_size, synchronous_commit="on")
            self._relaxed_pool = await self._create_pool(1, RELAXED_POOL_SIZE, synchronous_commit="off")
        except ValueError as exc:  # includes asyncpg.ClientConfigurationError: a malformed URL
            await self.close()
            raise InvalidInput(f"bad database URL: {exc}", field="database_url") from exc
        except Exception as exc:
            await self.close()
            raise self.translate(exc) from exc

    async def _create_pool(self, min_size: int, max_size: int, *, synchronous_commit: str) -> asyncpg.Pool:
        return await asyncpg.create_pool(
            self._dsn,
            min_size=min_size,
            max_size=max_size,
            init=_init_connection,
            reset=_reset_connection,
            server_settings={
                "synchronous_commit": synchronous_commit,
                "application_name": "ideamine-store",
                # plan each prepared statement once: the store's statements are written so
                # their generic plans use indexes (unnest batches + "= ANY($ids)" conditions),
                # and re-planning the large CTEs per call cost more than executing them
                "plan_cache_mode": "force_generic_plan",
                # ...but a generic plan is made on a connection's first call and kept until
                # the table is next analyzed, so one made while a table was small (a fresh
                # database, the first minute of a service) chose a sequential scan and kept
                # it while the table grew: inserting 100 tasks scanned every task_result
                # row, ~25 ms per batch after 10,000 tasks (bench/throughput.py). No store
                # statement is meant to read a whole table; this makes a seq scan the last
                # resort, taken only where no index applies
                "enable_seqscan": "off",
                # the store runs short statements only; with the seq-scan penalty in their
                # costs the server would JIT-compile them (~150 ms per call, measured)
                "jit": "off",
                # a process frozen inside a transaction (SIGSTOP, a VM pause) would hold its
                # row locks for ever and stall every writer of those rows — the run's driver
                # included; the server ends such a session instead (found by tests/chaos)
                "idle_in_transaction_session_timeout": "10000",
            },
        )

    async def connect_session(self, application_name: str) -> Conn:
        """A connection of its own, outside the pools, for session state a pool would reset.

        The caller owns it (and closes it). Connection failures are StoreUnavailable.
        """
        try:
            return await asyncpg.connect(self._dsn, server_settings={"application_name": application_name})
        except Exception as exc:
            raise self.translate(exc) from exc

    async def close(self) -> None:
        """Close the pool, waiting for connections in use to be released."""
        pool, self._pool = self._pool, None
        relaxed, self._relaxed_pool = self._relaxed_pool, None
        for p in (pool, relaxed):
            if p is not None:
                await p.close()

    def translate(self, exc: BaseException) -> BaseException:
        """Map a connection-level failure to StoreUnavailable; leave everything else alone.

        The whole ``__context__`` chain is examined: asyncpg reports leaving a transaction
        block on a connection the server terminated as a plain InterfaceError raised
        *while handling* the real ConnectionDoesNotExistError. Text PostgreSQL cannot store
        (a NUL character from a caller) is the caller's input error, not a server fault.
        """
        if isinstance(exc, asyncpg.CharacterNotInRepertoireError | asyncpg.UntranslatableCharacterError):
            return InvalidInput("text contains a character the database cannot store (such as NUL)")
        link: BaseException | None = exc
        while link is not None:
            if self._is_lost(link):
                return StoreUnavailable(f"database unavailable: {type(link).__name__}: {link}")
            link = link.__context__
        return exc

    def _is_lost(self, exc: BaseException) -> bool:
        if isinstance(
            exc, asyncpg.PostgresConnectionError | OSError | TimeoutError | asyncpg.InternalClientError
        ):
            return True
        if isinstance(exc, asyncpg.PostgresError) and str(exc.sqlstate).startswith(_UNAVAILABLE_STATES):
            return True
        # "pool is closed": the store was shut down under the caller
        return isinstance(exc, asyncpg.InterfaceError) and (self._pool is None or self._pool._closing)

    def _require_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreUnavailable("store is not open")
        return self._pool

    async def transaction(
        self, fn: Callable[[Conn], Awaitable[_T]], *, retry_on: tuple[type[Exception], ...] = ()
    ) -> _T:
        """Run ``fn(conn)`` in one transaction, retrying lost serialization races.

        ``fn`` may raise IdeaMineError subclasses to refuse the change; the transaction
        is rolled back and the error propagates unchanged. ``retry_on`` adds exception
        types that mean "lost a race, run me again" (re-raised after the last attempt).
        """

        async def in_transaction(conn: Conn) -> _T:
            async with conn.transaction():
                return await fn(conn)

        return await self._retrying(in_transaction, retry_on)

    async def statement(self, fn: Callable[[Conn], Awaitable[_T]]) -> _T:
        """Run one write statement ``fn(conn)`` as its own transaction, retrying lost races.

        No ``BEGIN``/``COMMIT`` round trips: the row locks the statement takes are held
        only while the server runs and commits it, never while this process's event loop
        is busy elsewhere between two round trips — what makes a hot row (a run's budget
        scope, locked by every model call of the run) a queue.
        """
        return await self._retrying(fn, ())

    async def _retrying(
        self, fn: Callable[[Conn], Awaitable[_T]], retry_on: tuple[type[Exception], ...]
    ) -> _T:
        pool = self._require_pool()
        for attempt in range(MAX_RETRIES):
            staged = _Staged(self.written)
            token = _STAGED.set(staged)
            try:
                async with pool.acquire() as conn:
                    result = await fn(conn)
            except Exception as exc:
                if (_is_retryable(exc) or isinstance(exc, retry_on)) and attempt + 1 < MAX_RETRIES:
                    await asyncio.sleep(min(0.002 * 2**attempt, 0.1) * random.random())
                    continue
                translated = self.translate(exc)
                if translated is exc:
                    raise
                raise translated from exc
            finally:
                _STAGED.reset(token)
            self.written.add(staged.rows)  # committed: the relay may publish them now
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    async def read(self, fn: Callable[[Conn], Awaitable[_T]]) -> _T:
        """Run ``fn(conn)`` outside an explicit transaction (single-statement reads)."""
        return await self._autocommit(self._require_pool(), fn)

    async def relaxed(self, fn: Callable[[Conn], Awaitable[_T]]) -> _T:
        """Run one statement ``fn(conn)`` that commits without waiting for the WAL flush.

        For bookkeeping whose loss in a server crash is harmless by design (outbox claims
        and published marks: a lost one means a row goes out once more). One round trip:
        the connection's session has ``synchronous_commit = off``, so no ``BEGIN``/``SET
        LOCAL``/``COMMIT`` around the statement is needed.
        """
        if self._relaxed_pool is None:
            raise StoreUnavailable("store is not open")
        return await self._autocommit(self._relaxed_pool, fn)

    async def _autocommit(self, pool: asyncpg.Pool, fn: Callable[[Conn], Awaitable[_T]]) -> _T:
        try:
            async with pool.acquire() as conn:
                return await fn(conn)
        except Exception as exc:
            translated = self.translate(exc)
            if translated is exc:
                raise
            raise translated from exc

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        """Rows of one read-only statement."""
        return await self.read(lambda conn: conn.fetch(sql, *args))

    async def fetchrow(self, sql: str, *args: Any) -> Any:
        """The first row of one statement, or None."""
        return await self.read(lambda conn: conn.fetchrow(sql, *args))


class StoreBase:
    """What every part of :class:`~ideamine.store.postgres.PostgresRunStore` shares: the database."""

    _db: Database
