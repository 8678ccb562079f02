"""The distributed deployment end to end, every service a real process on real ports.

PostgreSQL (a fresh, migrated database) + Redis (a unique key prefix) + two
``ideamine serve orchestrator`` replicas + two ``ideamine serve agent-host`` processes.
The IoT example is submitted over gRPC with :class:`ideamine.client.IdeaMineClient` and
runs on the offline model. Mid-run, the agent host running a task and the orchestrator
owning the run are killed with SIGKILL; the run still completes, every task's effect is
committed exactly once, and ``ideamine ledger verify`` accepts the chain.

"Mid-task" is made certain, not lucky: every process also loads the test-only ``slow``
plugin (``tests/agent_host/fixtures/slow_plugin``), whose extension task in the critique
phase blocks until this test releases it — so the kill lands while that task runs on a
known host, and the run is owned by a known replica. The offline tasks around it are
unchanged. Small leases (2 s) and heartbeats (0.5 s) keep the takeovers quick.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest

from ideamine._proto.ideamine.v1 import common_pb2
from ideamine.client import IdeaMineClient
from ideamine.enums import TaskStatus
from ideamine.queue import RedisStreamsQueue
from ideamine.runfile import load_run_file
from ideamine.store.base import RunStore
from ideamine.store.factory import open_store
from tests.agent_host.procs import ROOT, Service, serve, wait_serving
from tests.agent_host.support import fresh_database, redis_queue
from tests.queue.helpers import eventually

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

SLOW_PLUGIN = ROOT / "tests" / "agent_host" / "fixtures" / "slow_plugin"
IOT = ROOT / "examples" / "orchestrations" / "iot-dashboard.yaml"
LEASES = ["--lease-seconds", "2"]


@dataclass
class Deployment:
    """The four processes and what the test reads the truth from."""

    db_url: str
    store: RunStore
    queue: RedisStreamsQueue
    gates: Path
    orchestrators: dict[str, tuple[Service, str]]  #: replica id → (process, address)
    hosts: list[tuple[Service, str]]


@pytest.fixture
async def deployment(pg_url: str, redis_url: str, tmp_path: Path) -> AsyncIterator[Deployment]:
    gates = tmp_path / "gates"
    gates.mkdir()
    env = {"PYTHONPATH": os.pathsep.join([str(SLOW_PLUGIN), str(ROOT)]), "IDEAMINE_TEST_GATE": str(gates)}
    async with fresh_database(pg_url) as db_url, redis_queue(redis_url) as queue:
        common = {
            "database_url": db_url,
            "redis_url": redis_url,
            "queue_prefix": queue.keys.prefix,
            "log_dir": tmp_path,
            "env": env,
        }
        orchestrators = {
            name: serve("orchestrator", name, **common, extra=[*LEASES, "--reconcile-seconds", "2"])  # type: ignore[arg-type]
            for name in ("orch-a", "orch-b")
        }
        addresses = [a for _, a in orchestrators.values()]
        hosts = [
            serve(
                "agent-host",
                f"host-{i}",
                **common,  # type: ignore[arg-type]
                extra=[
                    *LEASES,
                    "--heartbeat-seconds",
                    "0.5",
                    "--concurrency",
                    "2",
                    "--orchestrator",
                    addresses[i],
                ],
            )
            for i in (0, 1)
        ]
        store = await open_store(db_url)
        try:
            await asyncio.gather(
                *(wait_serving(a, "ideamine.v1.RunService", s) for s, a in orchestrators.values()),
                *(wait_serving(a, "ideamine.v1.AgentHostService", s) for s, a in hosts),
            )
            yield Deployment(db_url, store, queue, gates, orchestrators, hosts)
        finally:
            for s, _ in [*hosts, *orchestrators.values()]:
                await asyncio.to_thread(s.stop)
            await store.close()


async def _owner(d: Deployment, run_id: str) -> str:
    conn = await asyncpg.connect(d.db_url)
    try:
        owner = await conn.fetchval("SELECT owner FROM run_leases WHERE run_id = $1", run_id)
    finally:
        await conn.close()
    return str(owner or "")


async def test_iot_run_survives_killing_a_host_and_the_owning_orchestrator(deployment: Deployment) -> None:
    d = deployment
    first_address = d.orchestrators["orch-a"][1]
    async with IdeaMineClient(first_address) as client:
        run = await client.create_run(load_run_file(str(IOT)))

    # the slow critique task is running on some host: note which process
    async def started() -> list[Path]:
        return sorted((d.gates / run.id).glob("started.1.*"))

    [marker] = await eventually(started, bool, what="the slow task to start", within=120)
    pid = int(marker.name.rsplit(".", 1)[1])
    [(victim_host, _)] = [h for h in d.hosts if h[0].pid == pid]
    owner = await eventually(lambda: _owner(d, run.id), bool, what="a run owner")
    victim_orch, _ = d.orchestrators[owner]
    done_before = await _calls_of_succeeded(d, run.id)

    victim_host.kill9()
    victim_orch.kill9()
    (d.gates / run.id / "release").touch()

    [(survivor, survivor_address)] = [(s, a) for n, (s, a) in d.orchestrators.items() if n != owner]
    async with IdeaMineClient(survivor_address) as client:
        events = [e async for e in client.watch_run(run.id)]
        final = await client.get_run(run.id)
    assert final.status == common_pb2.RUN_STATUS_SUCCEEDED, final.status_reason
    assert events[-1].type == "run.completed"
    assert await _owner(d, run.id) != owner  # the other replica took the run over

    tasks = await d.store.list_tasks(run.id)
    by_key = {t.task_key: t for t in tasks}
    assert by_key["slow"].status is TaskStatus.SUCCEEDED and by_key["slow"].attempt >= 2
    after = await _calls_of_succeeded(d, run.id)
    assert {t: after[t] for t in done_before} == done_before  # finished work was never redone nor repaid
    assert len(await d.store.list_hosts()) == 2  # both hosts registered their catalogue
    await _assert_each_effect_once(d, run.id)
    verify = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "ideamine.cli.main", "ledger", "verify", run.id, "--database-url", d.db_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verify.returncode == 0 and "OK" in verify.stdout, verify.stdout + verify.stderr


async def _calls_of_succeeded(d: Deployment, run_id: str) -> dict[str, int]:
    """Model calls per succeeded task of the run."""
    calls = Counter(c.task_id for c in await d.store.list_llm_calls(run_id=run_id))
    return {t.id: calls[t.id] for t in await d.store.list_tasks(run_id) if t.status is TaskStatus.SUCCEEDED}


async def _assert_each_effect_once(d: Deployment, run_id: str) -> None:
    """One committed result per succeeded task and key; each result's artifacts stored once."""
    tasks = {t.id: t for t in await d.store.list_tasks(run_id)}
    succeeded = {i for i, t in tasks.items() if t.status is TaskStatus.SUCCEEDED}
    conn = await asyncpg.connect(d.db_url)
    try:
        rows = await conn.fetch(
            "SELECT tr.idempotency_key, tr.task_id, tr.artifact_ids FROM task_results tr "
            "JOIN tasks t ON t.id = tr.task_id WHERE t.run_id = $1",
            run_id,
        )
        artifacts = await conn.fetch("SELECT id, task_id, type, key FROM artifacts WHERE run_id = $1", run_id)
    finally:
        await conn.close()
    results_per_task = Counter(str(r["task_id"]) for r in rows)
    keys = {tasks[i].idempotency_key for i in succeeded}
    # a task whose key was already committed (an idempotent hit) succeeds without a row of its own
    assert {r["idempotency_key"] for r in rows} == keys
    assert all(n == 1 for n in results_per_task.values())
    committed = sorted(str(a) for r in rows for a in r["artifact_ids"])
    assert committed == sorted(str(a["id"]) for a in artifacts)
    per_task_type = Counter((str(a["task_id"]), a["type"], a["key"]) for a in artifacts)
    assert max(per_task_type.values()) == 1
    succeeded_events = Counter(
        e.task_id for e in await d.store.list_events(run_id, limit=100_000) if e.type == "task.succeeded"
    )
    assert set(succeeded_events) == {t for t in results_per_task} and max(succeeded_events.values()) == 1
