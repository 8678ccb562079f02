"""PostgreSQL backend of the run store (asyncpg). See :class:`PostgresRunStore`."""

from ideamine.store.postgres.results import Completion
from ideamine.store.postgres.store import PostgresRunStore

__all__ = ["Completion", "PostgresRunStore"]
