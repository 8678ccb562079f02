"""``ideamine serve orchestrator``: configuration, the real process, health that means it."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ideamine.errors import InvalidInput
from orchestrator.config import load_config
from tests.orchestrator.conftest import drop_queue
from tests.orchestrator.support import (
    ROOT,
    create_database,
    drop_database,
    run_cli,
    running_server,
    server_config,
    unique_prefix,
)
from tests.polling import eventually


def test_config_reads_flags_over_environment_over_defaults(tmp_path: Path) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text('{"keys": []}', encoding="utf-8")
    env = {
        "IDEAMINE_DATABASE_URL": "postgresql://env/db",
        "IDEAMINE_REDIS_URL": "redis://env:6379/0",
        "IDEAMINE_JWT_JWKS_FILE": str(jwks),
        "IDEAMINE_JWT_ISSUER": "env-issuer",
    }
    cfg = load_config({"database_url": "postgresql://flag/db", "jwt_audience": "flag-aud"}, environ=env)
    assert cfg.database_url == "postgresql://flag/db" and cfg.redis_url == "redis://env:6379/0"
    assert cfg.jwt.issuer == "env-issuer" and cfg.jwt.audience == "flag-aud" and cfg.jwt.jwks_file == jwks
    assert cfg.listen == "127.0.0.1:50051" and not cfg.insecure_local and cfg.jwt.leeway_seconds == 30
    assert "secret" not in repr(load_config({"jwt_hs256_secret": "secret"}, environ=env).jwt)


def test_config_names_every_bad_setting(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as caught:
        load_config(
            {"listen": "nowhere", "lease_seconds": -1, "jwt_jwks_file": str(tmp_path / "missing.json")},
            environ={},
        )
    fields = {v.field for v in caught.value.violations}
    assert fields == {"database_url", "redis_url", "listen", "lease_seconds", "jwt_jwks_file"}
    with pytest.raises(InvalidInput) as caught:  # no way to verify tokens and not --insecure-local
        load_config({"database_url": "postgresql://x/y", "redis_url": "redis://x"}, environ={})
    assert [v.field for v in caught.value.violations] == ["jwt"]
    ok = load_config(
        {"database_url": "postgresql://x/y", "redis_url": "redis://x", "insecure_local": True}, environ={}
    )
    assert ok.insecure_local and not ok.jwt.configured


async def _start(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ideamine.cli.main",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )


async def test_serve_refuses_bad_flags_with_one_message() -> None:
    rc, _, text = await run_cli(
        "serve", "orchestrator", "--redis-url", "redis://127.0.0.1:6379/0", "--listen", "x"
    )
    assert rc == 2 and text.count("\n") == 1, text
    assert "database_url" in text and "listen" in text and "Traceback" not in text


async def test_max_active_runs_flag_reaches_the_config_and_is_validated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ideamine.cli.main import build_parser
    from ideamine.cli.serve_cmd import orchestrator_config

    monkeypatch.delenv("IDEAMINE_JWT_JWKS_FILE", raising=False)
    base = ["serve", "orchestrator", "--database-url", "postgresql://x/y", "--redis-url", "redis://x"]
    parser = build_parser()
    flagged = parser.parse_args([*base, "--insecure-local", "--max-active-runs", "7"])
    assert orchestrator_config(flagged).max_active_runs == 7
    assert orchestrator_config(parser.parse_args([*base, "--insecure-local"])).max_active_runs == 100
    with pytest.raises(InvalidInput) as caught:
        load_config(
            {"database_url": "postgresql://x/y", "redis_url": "redis://x", "max_active_runs": -1}, environ={}
        )
    assert "max_active_runs" in {v.field for v in caught.value.violations}
    for value, message in (("-1", "must not be negative"), ("many", "'many' is not a whole number")):
        rc, _, text = await run_cli(*base, "--insecure-local", "--max-active-runs", value)
        assert rc == 2 and f"--max-active-runs: {message}" in text and "Traceback" not in text, text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.postgres
@pytest.mark.redis
async def test_serve_orchestrator_process_serves_health_and_stops_on_sigterm(
    pg_url: str, redis_url: str
) -> None:
    db = await create_database(pg_url)
    prefix = unique_prefix()
    port = _free_port()
    proc = await _start(
        "serve",
        "orchestrator",
        "--database-url",
        db,
        "--redis-url",
        redis_url,
        "--queue-prefix",
        prefix,
        "--listen",
        f"127.0.0.1:{port}",
        "--insecure-local",
        "--replica-id",
        "proc-1",
        "--max-active-runs",
        "5",
    )
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)

            async def serving() -> bool:
                try:
                    reply = await health.Check(
                        health_pb2.HealthCheckRequest(service="ideamine.v1.RunService"), timeout=2
                    )
                except grpc.aio.AioRpcError:
                    return False
                return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

            await eventually(serving, within=90, what="the orchestrator process to serve")
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()
        assert "AUTHENTICATION IS DISABLED" in err.decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await drop_database(pg_url, db)
        await drop_queue(redis_url, prefix)


@pytest.mark.postgres
@pytest.mark.redis
async def test_health_follows_postgres(pg_url: str, redis_url: str) -> None:
    db = await create_database(pg_url)
    prefix = unique_prefix()
    try:
        async with running_server(server_config(db, redis_url, prefix, max_active_runs=0)) as server:
            assert await server.grpc.check_health() == {"postgres": True, "redis": True}
            await drop_database(pg_url, db)  # kills the server's connections, the database is gone
            results = await server.grpc.check_health()
            assert results == {"postgres": False, "redis": True}
            async with grpc.aio.insecure_channel(server.address) as channel:
                reply = await health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service="")
                )
            assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING
    finally:
        await drop_database(pg_url, db)
        await drop_queue(redis_url, prefix)


@pytest.mark.postgres
async def test_a_failed_start_closes_what_it_opened(pg_url: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    from ideamine.errors import IdeaMineError
    from orchestrator.server import OrchestratorServer

    db = await create_database(pg_url)
    name = db.rsplit("/", 1)[1]
    try:
        server = OrchestratorServer(server_config(db, "redis://127.0.0.1:1/0", unique_prefix()))
        with pytest.raises(IdeaMineError):  # Redis is not there: QueueUnavailable
            await server.start()
        admin = await asyncpg.connect(pg_url)
        try:
            # a closed connection's backend leaves pg_stat_activity a moment later: poll, bounded
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10
            while True:
                left = await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = $1", name)
                if left == 0 or loop.time() > deadline:
                    break
                await asyncio.sleep(0.05)
        finally:
            await admin.close()
        assert left == 0, "the failed start left database connections open"
        await server.shutdown()  # harmless after a failed start
    finally:
        await drop_database(pg_url, db)
