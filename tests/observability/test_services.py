"""Every service serves /metrics on --metrics-port and logs JSON lines (real processes)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.agent_host.procs import free_port, serve, wait_serving
from tests.observability.scrape import Scrape, scrape
from tests.orchestrator.support import create_database, drop_database, unique_prefix
from tests.queue.helpers import eventually


async def _scraped(port: int, ready: str) -> Scrape:
    """Scrape until ``ready`` (a sample name) is present: the process may still be starting."""

    async def probe() -> Scrape | None:
        try:
            return await asyncio.to_thread(scrape, port)
        except OSError:
            return None

    def has(s: Scrape | None) -> bool:
        return s is not None and any(name == ready for name, _ in s.samples)

    got = await eventually(probe, has, what=f"{ready} on :{port}/metrics", within=60)
    assert got is not None
    return got


def _json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
async def test_orchestrator_and_agent_host_serve_metrics_and_json_logs(
    pg_url: str, redis_url: str, tmp_path: Path
) -> None:
    db = await create_database(pg_url)
    prefix = unique_prefix()
    ports = {"orchestrator": free_port(), "agent-host": free_port()}
    procs = []
    try:
        for kind, port in ports.items():
            proc, address = serve(
                kind,
                f"{kind}-1",
                database_url=db,
                redis_url=redis_url,
                queue_prefix=prefix,
                log_dir=tmp_path,
                extra=["--metrics-port", str(port)],
            )
            procs.append(proc)
            service = "ideamine.v1.RunService" if kind == "orchestrator" else "ideamine.v1.AgentHostService"
            await wait_serving(address, service, proc)
        orch = await _scraped(ports["orchestrator"], "ideamine_dependency_up")
        host = await _scraped(ports["agent-host"], "ideamine_agent_host_slots")
        for s in (orch, host):
            assert s.value("ideamine_dependency_up", dependency="postgres") == 1
            assert s.value("ideamine_dependency_up", dependency="redis") == 1
            assert (
                s.total("ideamine_grpc_server_handled_total", service="grpc.health.v1.Health", code="OK") >= 1
            )
            assert "ideamine_runs_active" in s.names() and "ideamine_build_info" in s.names()
        assert host.value("ideamine_agent_host_slots") == 4  # --concurrency default
        assert orch.value("ideamine_runs_active") == 0
    finally:
        for proc in procs:
            assert proc.stop() == 0, proc.log()
        await drop_database(pg_url, db)
    for proc in procs:
        lines = _json_lines(proc.log())
        assert lines, proc.log()
        assert all({"ts", "level", "logger", "message"} <= set(line) for line in lines)


async def test_a_taken_metrics_port_is_refused_with_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc, _ = serve(
            "orchestrator",
            "o",
            database_url="postgresql://127.0.0.1:1/nowhere",
            redis_url="redis://127.0.0.1:1/0",
            queue_prefix=unique_prefix(),
            log_dir=tmp_path,
            extra=["--metrics-port", str(port)],
        )
        await asyncio.to_thread(proc.proc.wait, 60)
        code = proc.stop()
    text = proc.log()
    assert code == 2 and f"cannot serve metrics on 127.0.0.1:{port}" in text and "Traceback" not in text, text
