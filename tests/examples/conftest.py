"""Fixtures of the example tests: one real orchestrator (plus a worker) for the whole package.

The Node client, the Python submission scripts and the curl script all talk to the same
orchestrator — auth on, a fresh migrated PostgreSQL database, its own Redis key prefix, an
in-process agent-host worker on the offline model — so the package starts it once. It runs
on a :class:`~tests.gateway.support.LoopThread`: the examples are separate processes and
the tests wait for them with blocking calls while the server keeps serving. Envoy is started
only for the curl script.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.gateway.backend import Backend
from tests.gateway.support import EnvoyProcess, LoopThread


@pytest.fixture(scope="package")
def backend(pg_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """The shared orchestrator and its worker."""
    loop = LoopThread()
    try:
        backend = Backend.start(loop, pg_url, redis_url, tmp_path_factory.mktemp("examples-orchestrator"))
        try:
            yield backend
        finally:
            backend.stop()
    finally:
        loop.close()


@pytest.fixture(scope="package")
def gateway(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EnvoyProcess]:
    """A real Envoy in front of :func:`backend`, trusting its keys."""
    proc = backend.envoy(tmp_path_factory.mktemp("examples-envoy"))
    yield proc
    proc.stop()
