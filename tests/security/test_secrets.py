"""Secrets never reach artifacts, the ledger, stored rows, Redis, logs or error messages.

Canary values are planted where the real secrets go — the Anthropic API key
(``ANTHROPIC_API_KEY``), the JWT signing secret (``IDEAMINE_JWT_HS256_SECRET``) and the
database password (inside ``--database-url``) — and two runs are made with
``--model anthropic`` against the fake Messages API server (offline artifacts behind the
real SDK; a scripted 500 and an answer without the tool call put error paths in the state too):

- an **embedded** run (``ideamine run``, one process, SQLite);
- a **service** run: ``ideamine serve orchestrator`` (JWT auth on) and ``ideamine serve
  agent-host`` as processes on PostgreSQL + Redis, submitted over gRPC with a token
  signed by the canary secret, plus calls that fail (bad token, bad requests).

Then everything is scanned for each canary: the embedded run's output folder (SQLite file
included) and its output; every row of every table of the service database; every queue
entry seen in Redis while the run went on; the services' logs; the error messages clients got;
and the stderr of commands that fail to reach a database whose URL holds the password.
The fake server's request headers prove the API key canary was really in use.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import grpc
import jwt
import pytest
import redis.asyncio as aioredis
import yaml

from ideamine._proto.ideamine.v1 import common_pb2, run_pb2
from ideamine.client import IdeaMineClient
from ideamine.queue.keys import QueueKeys
from ideamine.runfile import load_run_file
from tests.agent_host.procs import ROOT, Service, free_port, wait_serving
from tests.agent_host.support import fresh_database
from tests.llm.fake_messages_server import FakeMessagesServer, error_reply, text_reply
from tests.polling import eventually
from tests.security.offline_messages import script_offline

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

API_KEY = f"sk-ant-canary-{uuid.uuid4().hex}"
JWT_SECRET = f"jwt-canary-{uuid.uuid4().hex}-{uuid.uuid4().hex}"
DB_PASSWORD = f"pgpw-canary-{uuid.uuid4().hex}"
CANARIES = {"API key": API_KEY, "JWT secret": JWT_SECRET, "database password": DB_PASSWORD}
#: a well-specified idea (the shipped todo example), so both runs pass their gates
EXAMPLE = yaml.safe_load((ROOT / "examples" / "orchestrations" / "todo-app.yaml").read_text(encoding="utf-8"))


def _leaks(where: str, text: str | bytes) -> list[str]:
    data = text if isinstance(text, bytes) else text.encode("utf-8", "replace")
    return [f"{name} in {where}" for name, value in CANARIES.items() if value.encode() in data]


def _with_password(url: str) -> str:
    """``url`` with the canary as the password (trust auth ignores it, so it still connects)."""
    scheme, rest = url.split("://", 1)
    user, host = rest.split("@", 1)
    return f"{scheme}://{user.split(':')[0]}:{DB_PASSWORD}@{host}"


@pytest.fixture
def model_server() -> Iterator[FakeMessagesServer]:
    """Offline answers behind the Messages API, after a 500 (retried) and an answer without
    the tool call (a failed, metered call: error paths are in the scanned state too)."""
    with FakeMessagesServer() as server:
        server.script(error_reply(500, message="scripted outage"), text_reply("no tool call, sorry"))
        script_offline(server)
        yield server


def _scan_tree(root: Path) -> list[str]:
    return [leak for p in root.rglob("*") if p.is_file() for leak in _leaks(str(p), p.read_bytes())]


def test_embedded_run_keeps_the_api_key_out_of_everything(
    model_server: FakeMessagesServer, tmp_path: Path
) -> None:
    run_file = tmp_path / "run.yaml"
    run_file.write_text(yaml.safe_dump({**EXAMPLE, "phases": ["intake", "ideation"]}), encoding="utf-8")
    env = {**os.environ, "ANTHROPIC_API_KEY": API_KEY, "ANTHROPIC_BASE_URL": model_server.base_url}
    out = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ideamine.cli.main",
            "run",
            str(run_file),
            "--model",
            "anthropic",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    assert any(API_KEY in v for r in model_server.requests for v in r.headers.values())  # the canary was used
    leaks = _scan_tree(out) + _leaks("stdout", done.stdout) + _leaks("stderr", done.stderr)
    assert not leaks, leaks


def _token(secret: str, tenant: str = "hikers") -> str:
    now = int(time.time())
    claims = {
        "sub": "ranger",
        "tenant": tenant,
        "roles": ["operator"],
        "iss": "ideamine",
        "aud": "ideamine-api",
    }
    return jwt.encode({**claims, "iat": now, "exp": now + 600}, secret, algorithm="HS256")


async def _database_dump(url: str) -> str:
    """Every row of every table, as JSON text."""
    conn = await asyncpg.connect(url)
    try:
        tables = [
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ]
        rows = [
            str(row[0])
            for table in tables
            for row in await conn.fetch(f'SELECT row_to_json(t)::text FROM "{table}" t')  # noqa: S608 - catalog names
        ]
    finally:
        await conn.close()
    assert len(rows) > 50  # the run left plenty to scan
    return "\n".join(rows)


class QueueTap:
    """Collects every entry seen in the queue's streams while a run goes on.

    Acknowledged entries are deleted at once, so the streams are read on every poll of
    the run, not afterwards; the keys are deleted at the end.
    """

    def __init__(self, url: str, prefix: str) -> None:
        self.client = aioredis.Redis.from_url(url)
        self.keys = QueueKeys(prefix).all()
        self.seen: set[str] = set()

    async def read(self) -> None:
        """Add what is in the streams now."""
        for key in self.keys:
            self.seen.update(repr(e) for e in await self.client.xrange(key) or [])

    async def close(self) -> None:
        """Delete the keys, close the connection."""
        await self.client.delete(*self.keys)
        await self.client.aclose()


def _failing_command(*args: str) -> tuple[int, bytes]:
    done = subprocess.run(
        [sys.executable, "-m", "ideamine.cli.main", *args], cwd=ROOT, capture_output=True, timeout=120
    )
    return done.returncode, done.stdout + done.stderr


async def test_service_run_keeps_every_secret_out_of_state_logs_and_errors(
    model_server: FakeMessagesServer, pg_url: str, redis_url: str, tmp_path: Path
) -> None:
    prefix = f"canary-{uuid.uuid4().hex[:10]}"
    errors: list[str] = []
    async with fresh_database(pg_url) as plain_url:
        db_url = _with_password(plain_url)
        env = {
            "IDEAMINE_JWT_HS256_SECRET": JWT_SECRET,
            "ANTHROPIC_API_KEY": API_KEY,
            "ANTHROPIC_BASE_URL": model_server.base_url,
        }
        common = [
            "--database-url",
            db_url,
            "--redis-url",
            redis_url,
            "--queue-prefix",
            prefix,
            "--metrics-port",
            "0",
        ]
        orch_addr, host_addr = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
        orchestrator = Service(
            "orchestrator",
            ["serve", "orchestrator", *common, "--listen", orch_addr, "--log-level", "DEBUG"],
            tmp_path,
            env,
        )
        host = Service(
            "agent-host",
            [
                "serve",
                "agent-host",
                *common,
                "--listen",
                host_addr,
                "--orchestrator",
                orch_addr,
                "--model",
                "anthropic",
                "--log-level",
                "DEBUG",
            ],
            tmp_path,
            env,
        )
        tap = QueueTap(redis_url, prefix)
        try:
            await asyncio.gather(
                wait_serving(orch_addr, "ideamine.v1.RunService", orchestrator),
                wait_serving(host_addr, "ideamine.v1.AgentHostService", host),
            )
            async with IdeaMineClient(orch_addr, token=_token(JWT_SECRET)) as client:
                request = load_run_file(str(ROOT / "examples" / "orchestrations" / "todo-app.yaml"))
                run = await client.create_run(
                    replace(request, phases=("intake", "ideation"), requested_phases=("ideation",))
                )

                async def ended() -> run_pb2.Run | None:
                    await tap.read()
                    r = await client.get_run(run.id)
                    return (
                        r
                        if r.status in (common_pb2.RUN_STATUS_SUCCEEDED, common_pb2.RUN_STATUS_FAILED)
                        else None
                    )

                final = await eventually(ended, within=300, what="the service run to end")
                assert final.status == common_pb2.RUN_STATUS_SUCCEEDED, final.status_reason
            errors += await _refusals(orch_addr, run.id)
        finally:
            for s in (host, orchestrator):
                await asyncio.to_thread(s.stop)
            await tap.close()
        dump = await _database_dump(plain_url)
    queue = "\n".join(tap.seen)
    assert queue  # task messages and notices were caught in flight
    refused = [
        _failing_command(
            "migrate",
            "--database-url",
            _with_password(f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"),
        )
    ]
    refused.append(
        _failing_command(
            "serve",
            "orchestrator",
            "--database-url",
            _with_password(f"postgresql://postgres@127.0.0.1:{free_port()}/x"),
            "--redis-url",
            redis_url,
            "--listen",
            f"127.0.0.1:{free_port()}",
            "--metrics-port",
            "0",
            "--insecure-local",
        )
    )
    assert all(code == 2 and b"database" in text for code, text in refused), refused

    assert any(API_KEY in v for r in model_server.requests for v in r.headers.values())
    assert '"status":"error"' in dump  # the failed model call is in the scanned state (llm_calls)
    leaks = _leaks("database", dump) + _leaks("redis", queue)
    leaks += [leak for s in (orchestrator, host) for leak in _leaks(f"{s.name} log", s.log())]
    leaks += [leak for e in errors for leak in _leaks("client error", e)]
    leaks += [leak for _, text in refused for leak in _leaks("failing command output", text)]
    assert not leaks, leaks


async def _refusals(address: str, run_id: str) -> list[str]:
    """Error messages clients get: a token signed with another secret, bad and foreign requests."""
    out = []
    for token, request in (
        (_token("not-the-secret-" + "x" * 40), run_pb2.GetRunRequest(run_id=run_id)),
        (_token(JWT_SECRET, tenant="elsewhere"), run_pb2.GetRunRequest(run_id=run_id)),
        (_token(JWT_SECRET), run_pb2.GetRunRequest(run_id="not-an-id")),
        (_token(JWT_SECRET)[:-6] + "AAAAAA", run_pb2.GetRunRequest(run_id=run_id)),
    ):
        async with grpc.aio.insecure_channel(address) as channel:
            from ideamine._proto.ideamine.v1 import run_pb2_grpc

            try:
                await run_pb2_grpc.RunServiceStub(channel).GetRun(
                    request, metadata=(("authorization", f"Bearer {token}"),)
                )
            except grpc.aio.AioRpcError as err:
                out.append(f"{err.code().name}: {err.details()} {err.trailing_metadata()}")
    assert len(out) == 4
    return out
