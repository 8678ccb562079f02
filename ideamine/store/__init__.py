"""Durable state: the :class:`RunStore` protocol and its PostgreSQL and SQLite backends.

SQL lives only in this package. ``open_store(url)`` picks the backend from the URL
(``postgresql://…`` or ``sqlite:///path``).
"""

from ideamine.store.base import RunStore

__all__ = ["RunStore"]
