"""docker/healthcheck.py (the images' HEALTHCHECK) against a real gRPC server and a real HTTP server."""

from __future__ import annotations

import asyncio
import http.server
import socket
import sys
import threading
from collections.abc import AsyncIterator, Iterator

import pytest

from ideamine.rpc import GrpcServer, HealthCheck
from tests.deploy.manifests import DOCKER, load_script
from tests.rpc.support import catalog_service

SCRIPT = DOCKER / "healthcheck.py"


hc = load_script(SCRIPT, "ideamine_healthcheck")


class Dependency:
    """A dependency whose health the test flips."""

    def __init__(self) -> None:
        self.up = True

    async def ping(self) -> bool:
        return self.up


@pytest.fixture
async def served() -> AsyncIterator[tuple[GrpcServer, Dependency]]:
    dep = Dependency()
    async with GrpcServer(
        services=[catalog_service()], health_checks=[HealthCheck("db", dep.ping)]
    ) as server:
        yield server, dep


async def _run(*args: str) -> int:
    """main() in a thread: the sync gRPC client must not block the loop serving it."""
    return int(await asyncio.to_thread(hc.main, list(args)))


async def test_serving_server_is_healthy(served: tuple[GrpcServer, Dependency]) -> None:
    server, _ = served
    assert await _run("grpc", server.address) == 0
    assert await _run("grpc", server.address, "ideamine.v1.CatalogService") == 0


async def test_a_failing_dependency_makes_it_unhealthy(
    served: tuple[GrpcServer, Dependency], capsys: pytest.CaptureFixture[str]
) -> None:
    server, dep = served
    dep.up = False
    await server.check_health()
    assert await _run("grpc", server.address) == 1
    assert "NOT_SERVING" in capsys.readouterr().err


async def test_unknown_service_is_unhealthy(
    served: tuple[GrpcServer, Dependency], capsys: pytest.CaptureFixture[str]
) -> None:
    server, _ = served
    assert await _run("grpc", server.address, "no.such.Service") == 1
    assert "NOT_FOUND" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_nothing_listening_is_unhealthy(capsys: pytest.CaptureFixture[str]) -> None:
    assert await _run("grpc", f"127.0.0.1:{_free_port()}") == 1
    assert "UNAVAILABLE" in capsys.readouterr().err


async def test_as_docker_runs_it(served: tuple[GrpcServer, Dependency]) -> None:
    """A separate process, as the HEALTHCHECK instruction starts it."""
    server, _ = served
    proc = await asyncio.create_subprocess_exec(sys.executable, str(SCRIPT), "grpc", server.address)
    assert await proc.wait() == 0


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.send_response(200 if self.path == "/healthz" else 503)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


@pytest.fixture(scope="module")
def http_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_http_2xx_is_healthy(http_server: str) -> None:
    assert hc.main(["http", f"{http_server}/healthz"]) == 0


def test_http_5xx_is_unhealthy(http_server: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert hc.main(["http", f"{http_server}/draining"]) == 1
    assert "HTTP 503" in capsys.readouterr().err


def test_http_refused_is_unhealthy(capsys: pytest.CaptureFixture[str]) -> None:
    assert hc.main(["http", f"http://127.0.0.1:{_free_port()}/healthz"]) == 1
    assert "unhealthy" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["grpc"],
        ["grpc", "no-port"],
        ["http", "ftp://x/y"],
        ["tcp", "1.2.3.4:5"],
        ["grpc", "a:1", "s", "extra"],
    ],
)
def test_bad_usage_exits_2_without_a_traceback(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert hc.main(argv) == 2
    err = capsys.readouterr().err
    assert "usage:" in err and "Traceback" not in err
