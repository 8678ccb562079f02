"""Real-process helpers for the gateway tests: Envoy, a loop thread for gRPC servers, keys, HTTP.

- :class:`EnvoyProcess` renders settings, starts the bundled Envoy on ephemeral ports
  (``--use-dynamic-base-id`` gives every instance its own shared-memory base id, so
  parallel Envoys never collide), waits for ``/ready`` and reads the listener's real port
  from the admin API;
- :class:`LoopThread` runs an asyncio loop in a thread so ``grpc.aio`` servers keep serving
  while a test makes blocking HTTP calls;
- :class:`Keys` makes RS256 tokens (and a JWKS that also holds the HS256 key of
  :func:`gateway.config.hs256_jwks`);
- :func:`http` is a curl-equivalent request on a real socket.
"""

from __future__ import annotations

import asyncio
import base64
import http.client as httplib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import jwt
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.config import GatewaySettings, hs256_jwks, load_settings, settings_file
from gateway.envoy import render_yaml
from gateway.serve import envoy_binary

T = TypeVar("T")
ISSUER = "ideamine"
AUDIENCE = "ideamine-api"
HS256_SECRET = "gateway-test-secret-0123456789abcdef"
STARTUP_TIMEOUT = 30.0


def wait_for(predicate: Callable[[], T], *, timeout: float = 10.0, what: str = "condition") -> T:
    """Poll ``predicate`` until it returns something truthy (no fixed sleeps in tests)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


class LoopThread:
    """An asyncio event loop running in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="gateway-test-loop", daemon=True)
        self._thread.start()

    def run(self, coro: Awaitable[T], timeout: float = 60.0) -> T:
        """Run ``coro`` on the loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]

    def close(self) -> None:
        """Stop the loop, then cancel and finish whatever a failed teardown left on it.

        Finishing leftovers here keeps their unclosed sockets from surfacing as warnings in
        whichever unrelated test the garbage collector happens to run in.
        """
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        leftovers = asyncio.all_tasks(self.loop)
        for task in leftovers:
            task.cancel()
        if leftovers:
            gathered = asyncio.gather(*leftovers, return_exceptions=True)
            self.loop.run_until_complete(asyncio.wait_for(gathered, 30))
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()


class Keys:
    """An RSA signing key and the tokens the tests need."""

    def __init__(self, kid: str = "test-key") -> None:
        self.kid = kid
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self) -> dict[str, Any]:
        """The public key as a JWK."""
        key = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        key.update(kid=self.kid, alg="RS256", use="sig")
        return dict(key)

    def jwks(self, *, with_hs256: bool = True) -> str:
        """JWKS text: this RSA key, plus the HS256 test secret as a symmetric key."""
        keys = [self.jwk()]
        if with_hs256:
            keys += json.loads(hs256_jwks(HS256_SECRET))["keys"]
        return json.dumps({"keys": keys})

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """Valid claims for tenant ``t1`` as an operator, with ``overrides`` applied."""
        now = int(time.time())
        base: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "alice",
            "tenant": "t1",
            "roles": ["operator"],
            "iat": now,
            "exp": now + 600,
        }
        base.update(overrides)
        return {k: v for k, v in base.items() if v is not None}

    def token(self, **overrides: Any) -> str:
        """An RS256 token signed with this key."""
        return jwt.encode(
            self.claims(**overrides), self.private, algorithm="RS256", headers={"kid": self.kid}
        )

    def bearer(self, **overrides: Any) -> dict[str, str]:
        """An Authorization header with :meth:`token`."""
        return {"authorization": f"Bearer {self.token(**overrides)}"}


def tampered(token: str) -> str:
    """``token`` with its payload changed (tenant t2) and the original signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["tenant"] = "t2"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


@dataclass
class Response:
    """One HTTP response."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


def http(
    port: int,
    method: str,
    path: str,
    *,
    body: bytes | str | dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    host: str = "127.0.0.1",
    timeout: float = 20.0,
) -> Response:
    """One request on a fresh connection (like ``curl``); a dict body is sent as JSON."""
    hdrs = dict(headers or {})
    if isinstance(body, dict):
        body = json.dumps(body)
        hdrs.setdefault("content-type", "application/json")
    conn = httplib.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def sse_events(port: int, path: str, headers: dict[str, str], *, timeout: float = 60.0) -> Iterator[Any]:
    """The JSON events of a server stream served as SSE (``data: {...}``), as they arrive."""
    conn = httplib.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        if resp.status != 200:
            raise AssertionError(f"stream answered {resp.status}: {resp.read()!r}")
        assert resp.getheader("content-type") == "text/event-stream"
        while line := resp.readline():
            if line.startswith(b"data: "):
                yield json.loads(line[len(b"data: ") :])
    finally:
        conn.close()


def gateway_settings(tmp_path: Path, *, upstream: str, jwks: str, **overrides: Any) -> GatewaySettings:
    """``gateway/settings/test.yaml`` with the upstream, an inline JWKS and overrides.

    A dict override updates that section (a ``None`` value removes the key), anything else
    replaces the top-level key.

    Written to a file and loaded with :func:`load_settings`, so the loader is exercised too.
    """
    raw = yaml.safe_load(settings_file("test").read_text())
    raw["upstream"]["addresses"] = [upstream]
    raw["jwt"]["jwks_inline"] = jwks
    for key, value in overrides.items():
        if isinstance(value, dict):
            section = raw.setdefault(key, {})
            section.update(value)
            for name in [k for k, v in section.items() if v is None]:
                del section[name]
        else:
            raw[key] = value
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_settings(path, env={})


@dataclass
class EnvoyProcess:
    """A running Envoy on the config rendered from ``settings``."""

    settings: GatewaySettings
    workdir: Path
    process: subprocess.Popen[bytes] | None = None
    admin_port: int = 0
    port: int = 0
    _log: Any = field(default=None, repr=False)

    def start(self) -> EnvoyProcess:
        """Render, start and wait until Envoy is ready and its listener is bound."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "envoy.yaml"
        config.write_text(render_yaml(self.settings))
        admin_file = self.workdir / "admin.address"
        self._log = (self.workdir / "envoy.log").open("wb")
        argv = [
            str(envoy_binary()),
            "-c",
            str(config),
            "--use-dynamic-base-id",
            "--base-id-path",
            str(self.workdir / "base.id"),
            "--admin-address-path",
            str(admin_file),
            "--log-level",
            "warning",
        ]
        self.process = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            address = wait_for(
                lambda: self._alive() and admin_file.exists() and admin_file.read_text().strip(),
                timeout=STARTUP_TIMEOUT,
                what="the Envoy admin address",
            )
            self.admin_port = int(str(address).rsplit(":", 1)[1])
            wait_for(
                lambda: self._alive() and self._admin("/ready").status == 200,
                timeout=STARTUP_TIMEOUT,
                what="Envoy /ready",
            )
            listeners = json.loads(self._admin("/listeners?format=json").body)["listener_statuses"]
            self.port = int(listeners[0]["local_address"]["socket_address"]["port_value"])
        except BaseException:
            self.stop()
            raise
        return self

    def _alive(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"envoy exited with {self.process.returncode}:\n{self.log()[-4000:]}")
        return True

    def _admin(self, path: str) -> Response:
        try:
            return http(self.admin_port, "GET", path, timeout=5)
        except OSError:
            return Response(0, {}, b"")

    def admin(self, path: str) -> Response:
        """A GET on the admin interface."""
        return http(self.admin_port, "GET", path, timeout=5)

    def stat(self, name: str) -> int:
        """One counter or gauge from ``/stats``."""
        for line in self.admin(f"/stats?filter=^{name}$").body.decode().splitlines():
            key, _, value = line.partition(": ")
            if key == name:
                return int(value)
        raise KeyError(name)

    def log(self) -> str:
        """Envoy's output so far."""
        return (self.workdir / "envoy.log").read_text(errors="replace")

    def request(self, method: str, path: str, **kwargs: Any) -> Response:
        """:func:`http` against this Envoy's listener."""
        return http(self.port, method, path, **kwargs)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if Envoy has not exited within 10 s."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        if self._log is not None:
            self._log.close()
            self._log = None


def error_body(resp: Response, code: int) -> dict[str, Any]:
    """Assert ``resp`` is a ``google.rpc.Status`` JSON body with ``code``; return it."""
    assert resp.headers.get("content-type", "").startswith("application/json"), resp
    body = resp.json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"], body
    return dict(body)
