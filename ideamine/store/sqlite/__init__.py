"""The SQLite backend of :class:`~ideamine.store.base.RunStore` (embedded mode).

Lifecycle::

    store = await open_sqlite("ideamine.db")   # creates the schema on a new file
    ...
    await store.close()                        # idempotent

Durability: WAL journal with ``synchronous=FULL`` — every call that returns has
committed to disk. Writers serialise on ``BEGIN IMMEDIATE``; see ``_base.py``. The
store is split by table family into mixins (runs, tasks, results, events, budgets,
Q/A/V, ownership, registry) over one connection class.
"""

from __future__ import annotations

from pathlib import Path

from ideamine.store.sqlite._base import SCHEMA_SQL, SCHEMA_VERSION
from ideamine.store.sqlite.budgets import BudgetsMixin
from ideamine.store.sqlite.events import EventsMixin
from ideamine.store.sqlite.ownership import OwnershipMixin
from ideamine.store.sqlite.qav import QavMixin
from ideamine.store.sqlite.registry import RegistryMixin
from ideamine.store.sqlite.results import ResultsMixin
from ideamine.store.sqlite.runs import RunsMixin
from ideamine.store.sqlite.tasks import TasksMixin
from ideamine.store.sqlite.worker_path import WorkerPathMixin
from ideamine.store.written_outbox import WrittenOutboxMixin

__all__ = ["SqliteStore", "open_sqlite", "SCHEMA_SQL", "SCHEMA_VERSION"]


class SqliteStore(
    RunsMixin,
    TasksMixin,
    ResultsMixin,
    EventsMixin,
    BudgetsMixin,
    QavMixin,
    OwnershipMixin,
    RegistryMixin,
    WorkerPathMixin,
    WrittenOutboxMixin,
):
    """A :class:`~ideamine.store.base.RunStore` over one SQLite file.

    Use :func:`open_sqlite`, or construct and ``await store.open()``; ``async with``
    opens and closes it.
    """

    async def __aenter__(self) -> SqliteStore:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def open_sqlite(path: str | Path) -> SqliteStore:
    """Open (creating if new) the SQLite store at ``path``."""
    store = SqliteStore(path)
    await store.open()
    return store
