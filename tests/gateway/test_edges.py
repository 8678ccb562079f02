"""Gateway behaviour that needs its own Envoy: remote JWKS, a dead upstream, the rate limit, gRPC clients."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import grpc
import pytest

from ideamine._proto.ideamine.v1 import catalog_pb2, catalog_pb2_grpc, run_pb2, run_pb2_grpc
from tests.gateway.support import EnvoyProcess, Keys, error_body, gateway_settings

UNAVAILABLE, RESOURCE_EXHAUSTED = 14, 8


class FlakyJwks:
    """A JWKS endpoint on 127.0.0.1 whose first answer is a 503 (so Envoy must retry)."""

    def __init__(self, jwks: str) -> None:
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                outer.hits += 1
                status, body = (503, b"warming up") if outer.hits == 1 else (200, jwks.encode())
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def jwks_server(keys: Keys) -> Iterator[FlakyJwks]:
    server = FlakyJwks(keys.jwks(with_hs256=False))
    yield server
    server.close()


@pytest.fixture(scope="module")
def remote_envoy(
    tmp_path_factory: pytest.TempPathFactory, keys: Keys, upstream: str, jwks_server: FlakyJwks
) -> Iterator[EnvoyProcess]:
    """Envoy fetching its keys from :class:`FlakyJwks` (as production fetches from the IdP)."""
    work = tmp_path_factory.mktemp("envoy-remote")
    settings = gateway_settings(
        work,
        upstream=upstream,
        jwks="",
        jwt={"jwks_inline": None, "jwks_url": jwks_server.url, "fetch_retries": 3},
    )
    proc = EnvoyProcess(settings, work).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def dead_port() -> Iterator[int]:
    """A port bound but never listening: connections to it are refused."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


@pytest.fixture(scope="module")
def limited_envoy(
    tmp_path_factory: pytest.TempPathFactory, keys: Keys, dead_port: int
) -> Iterator[EnvoyProcess]:
    """Envoy with a 3-token bucket that never refills, in front of a dead upstream."""
    work = tmp_path_factory.mktemp("envoy-limited")
    settings = gateway_settings(
        work,
        upstream=f"127.0.0.1:{dead_port}",
        jwks=keys.jwks(),
        rate_limit={"max_tokens": 3, "tokens_per_fill": 1, "fill_interval_s": 3600},
    )
    proc = EnvoyProcess(settings, work).start()
    yield proc
    proc.stop()


def test_remote_jwks_is_fetched_with_retries(
    remote_envoy: EnvoyProcess, keys: Keys, jwks_server: FlakyJwks
) -> None:
    resp = remote_envoy.request("GET", "/v1/phases", headers=keys.bearer(roles=["viewer"]))
    assert resp.status == 200, resp
    assert jwks_server.hits >= 2  # the first fetch failed and was retried
    assert remote_envoy.request("GET", "/v1/phases", headers={"authorization": "Bearer x.y.z"}).status == 401


def test_dead_upstream_is_503_json_then_the_rate_limit_is_429(
    limited_envoy: EnvoyProcess, keys: Keys
) -> None:
    assert limited_envoy.request("GET", "/healthz").status == 200  # answered before the limiter
    statuses = []
    for _ in range(limited_envoy.settings.rate_limit.max_tokens + 1):
        resp = limited_envoy.request("GET", "/v1/phases", headers=keys.bearer())
        statuses.append(resp.status)
        if resp.status == 503:
            error_body(resp, UNAVAILABLE)
    assert statuses[:-1] == [503] * limited_envoy.settings.rate_limit.max_tokens, statuses
    assert statuses[-1] == 429
    limited = limited_envoy.request("GET", "/v1/phases")  # limited before the token is even checked
    assert limited.status == 429
    error_body(limited, RESOURCE_EXHAUSTED)
    assert limited.headers["x-ratelimit-limit"] == "3"
    assert limited.headers["x-ratelimit-remaining"] == "0"
    assert limited_envoy.stat("rest_rate_limit.http_local_rate_limit.enforced") == 2


# -- native gRPC clients through the gateway ---------------------------------------------


def test_grpc_clients_pass_through_with_the_same_rules(
    envoy: EnvoyProcess, keys: Keys, tmp_path: Path
) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{envoy.port}") as channel:
        catalog = catalog_pb2_grpc.CatalogServiceStub(channel)
        reply = catalog.ListPhases(
            catalog_pb2.ListPhasesRequest(),
            metadata=[("authorization", keys.bearer()["authorization"])],
            timeout=10,
        )
        assert len(reply.phases) == 13
        with pytest.raises(grpc.RpcError) as missing:
            catalog.ListPhases(catalog_pb2.ListPhasesRequest(), timeout=10)
        assert missing.value.code() is grpc.StatusCode.UNAUTHENTICATED
        wrong_aud = [("authorization", f"Bearer {keys.token(aud='elsewhere')}")]
        with pytest.raises(grpc.RpcError) as audience:
            catalog.ListPhases(catalog_pb2.ListPhasesRequest(), metadata=wrong_aud, timeout=10)
        assert audience.value.code() is grpc.StatusCode.UNAUTHENTICATED
        assert audience.value.details() == "Audiences in Jwt are not allowed"  # plain text, not JSON
        viewer = [("authorization", keys.bearer(roles=["viewer"])["authorization"])]
        with pytest.raises(grpc.RpcError) as denied:
            run_pb2_grpc.RunServiceStub(channel).CreateRun(
                run_pb2.CreateRunRequest(), metadata=viewer, timeout=10
            )
        assert denied.value.code() is grpc.StatusCode.PERMISSION_DENIED
