"""Fixtures of the gateway tests: keys, upstreams on a loop thread, a real Envoy per module.

Two upstreams: a small gRPC server (CatalogService + a recording RunService) for the
gateway's own behaviour, and the real orchestrator (PostgreSQL, Redis, an in-process
agent-host worker with the offline model) for the user journey and schemathesis.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.gateway.backend import Backend
from tests.gateway.support import EnvoyProcess, Keys, LoopThread, gateway_settings
from tests.gateway.upstream import RecordingRunServicer, upstream_server


@pytest.fixture(scope="session")
def keys() -> Keys:
    """The RSA key tokens are signed with (its JWKS also holds the HS256 test key)."""
    return Keys()


@pytest.fixture(scope="module")
def loop_thread() -> Iterator[LoopThread]:
    """An event loop in a thread, for gRPC servers that must serve while tests block on HTTP."""
    lt = LoopThread()
    yield lt
    lt.close()


@pytest.fixture(scope="module")
def runs() -> RecordingRunServicer:
    """The upstream's RunService (records call metadata)."""
    return RecordingRunServicer()


@pytest.fixture(scope="module")
def upstream(loop_thread: LoopThread, runs: RecordingRunServicer) -> Iterator[str]:
    """``host:port`` of a gRPC server with CatalogService and the recording RunService."""
    server = upstream_server(runs)
    loop_thread.run(server.start())
    yield server.address
    loop_thread.run(server.shutdown(0))


@pytest.fixture(scope="module")
def envoy(tmp_path_factory: pytest.TempPathFactory, keys: Keys, upstream: str) -> Iterator[EnvoyProcess]:
    """Envoy on the test settings in front of :func:`upstream`."""
    work = tmp_path_factory.mktemp("envoy")
    proc = EnvoyProcess(gateway_settings(work, upstream=upstream, jwks=keys.jwks()), work).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def orchestrator(
    request: pytest.FixtureRequest,
    loop_thread: LoopThread,
    pg_url: str,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Backend]:
    """A real orchestrator (auth on, fresh database, own Redis prefix) plus an in-process worker.

    A module sets ``WITH_WORKER = False`` for an orchestrator whose runs never progress.
    """
    with_worker = bool(getattr(request.module, "WITH_WORKER", True))
    backend = Backend.start(
        loop_thread, pg_url, redis_url, tmp_path_factory.mktemp("orchestrator"), with_worker=with_worker
    )
    yield backend
    backend.stop()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, orchestrator: Backend) -> Iterator[EnvoyProcess]:
    """Envoy in front of :func:`orchestrator`."""
    proc = orchestrator.envoy(tmp_path_factory.mktemp("envoy-orchestrator"))
    yield proc
    proc.stop()
