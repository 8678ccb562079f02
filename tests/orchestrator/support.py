"""Helpers for the orchestrator tests: keys and tokens, databases, servers, status details."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import grpc
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from agent_host.worker import TaskWorker
from ideamine.ids import new_id
from ideamine.llm.offline import OfflineProvider
from ideamine.plugins import AgentRegistry, get_plugin_manager
from ideamine.queue.base import TaskQueue
from ideamine.store.base import RunStore
from ideamine.store.migrate import migrate
from orchestrator.config import load_config
from orchestrator.server import OrchestratorServer

ISSUER = "ideamine-test"
AUDIENCE = "ideamine-api"
HS_SECRET = "test-secret-that-is-long-enough-for-hs256"
KID = "test-key-1"


@dataclass
class Keys:
    """The signing keys of a test: a trusted RSA key in a JWKS file, an untrusted one, a secret."""

    private: rsa.RSAPrivateKey
    stranger: rsa.RSAPrivateKey
    jwks_file: Path
    public_pem: bytes = field(default=b"")

    def token(
        self,
        *,
        sub: str | None = "alice",
        tenant: str | None = "acme",
        roles: Any = ("viewer", "operator", "admin"),
        exp_in: float = 300,
        issuer: str = ISSUER,
        audience: str = AUDIENCE,
        key: Any = None,
        algorithm: str = "RS256",
        kid: str | None = KID,
        **extra: Any,
    ) -> str:
        """A signed JWT; every part can be made wrong on purpose."""
        now = int(time.time())
        claims = {
            "sub": sub,
            "tenant": tenant,
            "roles": list(roles) if not isinstance(roles, str) else roles,
            "iss": issuer,
            "aud": audience,
            "iat": now,
            "exp": now + int(exp_in),
            **extra,
        }
        claims = {k: v for k, v in claims.items() if v is not None}
        headers = {"kid": kid} if kid else {}
        return jwt.encode(
            claims, key if key is not None else self.private, algorithm=algorithm, headers=headers
        )


def make_keys(directory: Path) -> Keys:
    """Generate the keys and write the JWKS file."""
    from cryptography.hazmat.primitives import serialization

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    jwk.update({"kid": KID, "alg": "RS256", "use": "sig"})
    path = directory / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk]}), encoding="utf-8")
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return Keys(private=private, stranger=stranger, jwks_file=path, public_pem=pem)


async def create_database(pg_url: str) -> str:
    """A fresh, migrated database; returns its URL."""
    name = f"ideamine_orch_{new_id().replace('-', '')}"
    admin = await asyncpg.connect(pg_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = pg_url.rsplit("/", 1)[0] + f"/{name}"
    await migrate(url)
    return url


async def drop_database(pg_url: str, url: str) -> None:
    """Drop a database made by :func:`create_database`."""
    admin = await asyncpg.connect(pg_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await admin.close()


def server_config(
    db_url: str, redis_url: str, prefix: str, keys: Keys | None = None, **overrides: Any
) -> Any:
    """A test server's config: loopback port 0, small leases, auth on unless ``keys`` is None."""
    explicit: dict[str, Any] = {
        "database_url": db_url,
        "redis_url": redis_url,
        "listen": "127.0.0.1:0",
        "queue_prefix": prefix,
        "lease_seconds": 1.5,
        "reconcile_seconds": 2.0,
        "outbox_poll_seconds": 0.05,
        "watch_poll_seconds": 0.05,
        "health_interval": 0.5,
        "grace_seconds": 1.0,
    }
    if keys is None:
        explicit["insecure_local"] = True
    else:
        explicit.update(
            jwt_jwks_file=str(keys.jwks_file),
            jwt_hs256_secret=HS_SECRET,
            jwt_issuer=ISSUER,
            jwt_audience=AUDIENCE,
        )
    explicit.update(overrides)
    return load_config(explicit, environ={})


@asynccontextmanager
async def running_server(config: Any, **kwargs: Any) -> AsyncIterator[OrchestratorServer]:
    """An orchestrator replica, started and shut down around the block."""
    server = OrchestratorServer(config, **kwargs)
    await server.start()
    try:
        yield server
    finally:
        await server.shutdown(0.5)


def unique_prefix() -> str:
    """A Redis key prefix no other test uses."""
    return f"test-orch-{uuid.uuid4().hex[:12]}"


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    """Call metadata carrying ``token``."""
    return (("authorization", f"Bearer {token}"),)


def violations(err: grpc.aio.AioRpcError) -> dict[str, str]:
    """The BadRequest field violations of a failed call, field → description."""
    status = rpc_status.from_call(err)
    assert status is not None, "no rich status"
    out: dict[str, str] = {}
    for d in status.details:
        if d.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            d.Unpack(bad)
            out.update({v.field: v.description for v in bad.field_violations})
    return out


ROOT = Path(__file__).resolve().parents[2]


async def run_cli(*args: str) -> tuple[int, str, str]:
    """Run ``ideamine ARGS`` as a separate process (as a user does); (exit code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ideamine.cli.main",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return int(proc.returncode or 0), out.decode(), err.decode()


@asynccontextmanager
async def worker_running(store: RunStore, queue: TaskQueue, consumer: str) -> AsyncIterator[TaskWorker]:
    """An offline worker consuming in the background; stopped (then cancelled if it lingers)."""
    worker = offline_worker(store, queue, consumer)
    task = asyncio.create_task(worker.run(), name=f"worker:{consumer}")
    try:
        yield worker
    finally:
        worker.shutdown()
        done, _ = await asyncio.wait({task}, timeout=30)
        if not done:  # in-flight agents outlived the grace: a test teardown does not wait for them
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


def offline_worker(store: RunStore, queue: TaskQueue, consumer: str) -> TaskWorker:
    """An agent host's task worker in this process: built-in agents, the offline model."""
    return TaskWorker(
        store=store,
        queue=queue,
        registry=AgentRegistry.from_plugin_manager(get_plugin_manager()),
        provider=OfflineProvider(),
        consumer=consumer,
        concurrency=4,
        lease_seconds=5.0,
        heartbeat_seconds=1.0,
    )
