"""TokenVerifier on its own: keys from a JWKS URL (a real local HTTP server), roles."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ideamine.errors import Unauthenticated
from orchestrator.auth import Principal, Role, TokenVerifier
from orchestrator.config import JwtSettings
from tests.orchestrator.support import AUDIENCE, ISSUER, Keys, make_keys


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("jwks"))


@pytest.fixture
def jwks_url(keys: Keys) -> Iterator[str]:
    body = Path(keys.jwks_file).read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    finally:
        server.shutdown()
        server.server_close()


async def test_rs256_keys_come_from_a_jwks_url(keys: Keys, jwks_url: str) -> None:
    verifier = TokenVerifier(JwtSettings(jwks_url=jwks_url, issuer=ISSUER, audience=AUDIENCE))
    who = await verifier.verify(keys.token(sub="bob", tenant="acme", roles=["operator", "made-up"]))
    assert who == Principal(subject="bob", tenant="acme", roles=frozenset({Role.OPERATOR}))
    with pytest.raises(Unauthenticated):
        await verifier.verify(keys.token(key=keys.stranger, kid="rotated-away"))
    with pytest.raises(Unauthenticated):  # HS256 is refused when no secret is configured
        await verifier.verify(keys.token(key="x" * 40, algorithm="HS256"))


def test_roles_nest_admin_over_operator_over_viewer() -> None:
    admin = Principal("a", "t", frozenset({Role.ADMIN}))
    viewer = Principal("v", "t", frozenset({Role.VIEWER}))
    assert all(admin.allows(r) for r in Role)
    assert viewer.allows(Role.VIEWER) and not viewer.allows(Role.OPERATOR)
    assert not Principal("n", "t", frozenset()).allows(Role.VIEWER)
