"""``open_store(url)``: pick and open the store backend a URL names.

Backends are imported lazily so the embedded mode never imports asyncpg and the
distributed mode never touches SQLite.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ideamine.errors import InvalidInput
from ideamine.store.base import RunStore

__all__ = ["open_store", "backend_name"]

_POSTGRES_SCHEMES = ("postgresql", "postgres")


def backend_name(url: str) -> str:
    """``"postgres"`` or ``"sqlite"`` for a store URL.

    Raises:
        InvalidInput: the URL names neither backend, or a SQLite URL has no path.
    """
    scheme = urlsplit(url).scheme
    if scheme in _POSTGRES_SCHEMES:
        return "postgres"
    if scheme == "sqlite":
        if not url.startswith("sqlite:///") or len(url) <= len("sqlite:///"):
            raise InvalidInput("a SQLite URL is sqlite:///path/to/file.db", field="database_url")
        return "sqlite"
    raise InvalidInput(
        f"unsupported database URL scheme {scheme!r}: use postgresql://… or sqlite:///path",
        field="database_url",
    )


async def open_store(url: str) -> RunStore:
    """Open the store ``url`` names: ``postgresql://…`` or ``sqlite:///path`` (a file path).

    The returned store is open; call ``await store.close()`` when done. PostgreSQL must
    have been migrated (``ideamine migrate``); a SQLite file is created on first use.
    """
    if backend_name(url) == "postgres":
        from ideamine.store.postgres import PostgresRunStore

        store: RunStore = PostgresRunStore(url)
        await store.open()
        return store
    from ideamine.store.sqlite import open_sqlite

    return await open_sqlite(url[len("sqlite:///") :])
