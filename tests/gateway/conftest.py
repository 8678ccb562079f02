"""Fixtures of the gateway tests: keys, a gRPC upstream on a loop thread, a real Envoy per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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
