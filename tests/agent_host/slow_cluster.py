"""Agent hosts as real processes running the ``slow`` agent, over one fresh database and queue.

The ``slow`` agent (``fixtures/slow_plugin``, loaded through its entry point like any
installed plugin) blocks on a file the test creates (``release`` in the run's gate
directory) and tells which process started which attempt. Shared by the host-kill and
host-liveness tests, which differ only in the hosts' flags.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from ideamine.queue import RedisStreamsQueue
from ideamine.store.base import RunStore
from ideamine.store.factory import open_store
from ideamine.store.records import TaskRecord
from tests.agent_host.procs import ROOT, Service, serve, wait_serving
from tests.agent_host.support import fresh_database, redis_queue
from tests.queue.helpers import eventually

__all__ = ["Cluster", "slow_cluster"]

SLOW_PLUGIN = Path(__file__).parent / "fixtures" / "slow_plugin"


@dataclass
class Cluster:
    """Host processes over one database and queue namespace."""

    db_url: str
    store: RunStore
    queue: RedisStreamsQueue
    gates: Path  #: one gate directory per run below this
    hosts: list[Service]
    addresses: dict[int, str]  #: gRPC address by host pid

    def gate(self, task: TaskRecord) -> Path:
        """The slow agent's gate directory for ``task``'s run."""
        return self.gates / task.run_id

    async def started(self, task: TaskRecord, attempt: int, *, within: float = 60) -> int:
        """The pid of the host process that started ``attempt`` of the slow task."""

        async def probe() -> list[Path]:
            return sorted(self.gate(task).glob(f"started.{attempt}.*"))

        [marker] = await eventually(probe, bool, what=f"attempt {attempt} to start", within=within)
        return int(marker.name.rsplit(".", 1)[1])


@asynccontextmanager
async def slow_cluster(
    pg_url: str, redis_url: str, tmp_path: Path, *, hosts: int, host_args: Sequence[str]
) -> AsyncIterator[Cluster]:
    """``hosts`` serving agent hosts started with ``host_args``; stopped (thawed first) afterwards."""
    gate = tmp_path / "gate"
    gate.mkdir()
    env = {"PYTHONPATH": os.pathsep.join([str(SLOW_PLUGIN), str(ROOT)]), "IDEAMINE_TEST_GATE": str(gate)}
    async with fresh_database(pg_url) as db_url, redis_queue(redis_url) as queue:
        started = [
            serve(
                "agent-host",
                f"host-{i}",
                database_url=db_url,
                redis_url=redis_url,
                queue_prefix=queue.keys.prefix,
                log_dir=tmp_path,
                env=env,
                extra=list(host_args),
            )
            for i in range(1, hosts + 1)
        ]
        store = await open_store(db_url)
        try:
            await asyncio.gather(*(wait_serving(a, "ideamine.v1.AgentHostService", s) for s, a in started))
            yield Cluster(db_url, store, queue, gate, [s for s, _ in started], {s.pid: a for s, a in started})
        finally:
            for s, _ in started:
                if s.proc.poll() is None:
                    os.kill(s.pid, signal.SIGCONT)  # a test that failed may leave one frozen
                await asyncio.to_thread(s.stop)
            await store.close()
