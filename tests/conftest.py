"""Shared test fixtures: where the real PostgreSQL and Redis are.

`make test` starts both with ``scripts/services up``; the URLs can be overridden with
``IDEAMINE_TEST_DATABASE_URL`` and ``IDEAMINE_TEST_REDIS_URL``. Tests isolate themselves
(a fresh database, unique stream names) instead of sharing state.
"""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def pg_url() -> str:
    """Admin URL of the test PostgreSQL server (tests create their own databases)."""
    return os.environ.get("IDEAMINE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the test Redis server (tests use unique key prefixes or their own db)."""
    return os.environ.get("IDEAMINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
