"""``PostgresRunStore``: the asyncpg implementation of :class:`~ideamine.store.base.RunStore`.

The class is assembled from one mixin per responsibility (runs, tasks, results,
journal, timers, Q/A/V, budgets, hosts); each module holds its own SQL. This module only
owns the lifecycle.
"""

from __future__ import annotations

from ideamine.batching import Grouped
from ideamine.errors import StoreUnavailable
from ideamine.store.migrate import check_schema
from ideamine.store.postgres.budget import BudgetMixin
from ideamine.store.postgres.db import Database
from ideamine.store.postgres.hosts import HostsMixin
from ideamine.store.postgres.journal import JournalMixin
from ideamine.store.postgres.liveness import LivenessMixin
from ideamine.store.postgres.qav import QavMixin
from ideamine.store.postgres.results import ResultsMixin
from ideamine.store.postgres.runs import RunsMixin
from ideamine.store.postgres.tasks import TasksMixin
from ideamine.store.postgres.timers import TimersMixin
from ideamine.store.postgres.worker_path import WorkerPathMixin
from ideamine.store.written_outbox import WrittenOutboxMixin

__all__ = ["PostgresRunStore"]


class PostgresRunStore(
    RunsMixin,
    WorkerPathMixin,
    TasksMixin,
    ResultsMixin,
    JournalMixin,
    TimersMixin,
    QavMixin,
    BudgetMixin,
    HostsMixin,
    LivenessMixin,
    WrittenOutboxMixin,
):
    """Durable state in PostgreSQL (distributed mode).

    Lifecycle: ``store = PostgresRunStore(url)``; ``await store.open()`` creates the pool
    and refuses a database that is not at this code's migrations (run ``ideamine
    migrate`` first); ``await store.close()``. Also an async context manager.

    Args:
        dsn: ``postgresql://user@host:port/db``.
        min_size: connections opened eagerly.
        max_size: pool limit; concurrent callers beyond it wait for a connection.
    """

    def __init__(self, dsn: str, *, min_size: int = 2, max_size: int = 10) -> None:
        self._db = Database(dsn, min_size=min_size, max_size=max_size)
        self._written = self._db.written
        self._commits = Grouped(self.commit_task_results, finish_orphans=True)  # see Grouped
        self._starts = Grouped(self.start_tasks)
        self._task_reads = Grouped(self._tasks_with_results)
        self._input_reads = Grouped(self._tasks_inputs)
        self._liveness = {}

    async def open(self) -> None:
        """Connect (pool) and check the schema is migrated; idempotent."""
        await self._db.open()
        try:
            await self._db.read(check_schema)
        except BaseException:
            await self._db.close()
            raise

    async def close(self) -> None:
        """Close connections (liveness sessions too: their locks go with them); idempotent."""
        await self._release_all_liveness()
        await self._db.close()

    async def ping(self) -> bool:
        """Whether the database answers (health checks)."""
        try:
            return bool(await self._db.read(lambda conn: conn.fetchval("SELECT 1")))
        except StoreUnavailable:
            return False

    async def __aenter__(self) -> PostgresRunStore:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
