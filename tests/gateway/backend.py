"""The real orchestrator behind the gateway in tests: server, database, queue and a worker.

Everything runs on a :class:`~tests.gateway.support.LoopThread`, so the tests can make
blocking HTTP calls through Envoy while the orchestrator and the worker keep going.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path

from agent_host.worker import TaskWorker
from ideamine.llm.offline import OfflineProvider
from ideamine.plugins import AgentRegistry, get_plugin_manager
from ideamine.queue import open_queue
from ideamine.queue.base import TaskQueue
from ideamine.store.base import RunStore
from ideamine.store.factory import open_store
from orchestrator.server import OrchestratorServer
from tests.gateway.support import EnvoyProcess, LoopThread, gateway_settings
from tests.orchestrator.conftest import drop_queue
from tests.orchestrator.support import (
    AUDIENCE,
    ISSUER,
    Keys,
    create_database,
    drop_database,
    make_keys,
    server_config,
    unique_prefix,
)

#: seconds the orchestrator may take to stop (drain calls, cancel its loops, release leases)
SHUTDOWN_TIMEOUT = 60.0


@dataclass
class Backend:
    """A running orchestrator replica with one agent-host worker."""

    loop: LoopThread
    server: OrchestratorServer
    keys: Keys
    pg_url: str
    db_url: str
    redis_url: str
    prefix: str
    store: RunStore
    queue: TaskQueue
    worker: TaskWorker
    worker_task: asyncio.Task[None] | None

    @classmethod
    def start(
        cls, loop: LoopThread, pg_url: str, redis_url: str, workdir: Path, *, with_worker: bool = True
    ) -> Backend:
        """Create the database, start the orchestrator and (unless told not to) the worker."""
        keys = make_keys(workdir)
        prefix = unique_prefix()

        async def up() -> Backend:
            db = await create_database(pg_url)
            server = OrchestratorServer(server_config(db, redis_url, prefix, keys))
            await server.start()
            store = await open_store(db)
            queue = open_queue(redis_url, prefix=prefix)
            await queue.ensure()
            worker = TaskWorker(
                store=store,
                queue=queue,
                registry=AgentRegistry.from_plugin_manager(get_plugin_manager()),
                provider=OfflineProvider(),
                consumer="gateway-worker",
                concurrency=4,
                lease_seconds=5.0,
                heartbeat_seconds=1.0,
            )
            task = asyncio.create_task(worker.run(), name="gateway-test-worker") if with_worker else None
            return cls(loop, server, keys, pg_url, db, redis_url, prefix, store, queue, worker, task)

        return loop.run(up())

    def token(
        self, *, tenant: str = "acme", roles: tuple[str, ...] = ("operator",), sub: str = "alice"
    ) -> str:
        """A token the orchestrator and the gateway both accept."""
        return self.keys.token(sub=sub, tenant=tenant, roles=roles)

    def bearer(self, **kwargs: object) -> dict[str, str]:
        """An Authorization header with :meth:`token`."""
        return {"authorization": f"Bearer {self.token(**kwargs)}"}  # type: ignore[arg-type]

    def envoy(self, workdir: Path) -> EnvoyProcess:
        """A started Envoy in front of this orchestrator, trusting its JWKS, issuer and audience."""
        settings = gateway_settings(
            workdir,
            upstream=self.server.address,
            jwks=self.keys.jwks_file.read_text(),
            jwt={"issuer": ISSUER, "audiences": [AUDIENCE]},
        )
        return EnvoyProcess(settings, workdir).start()

    def stop(self) -> None:
        """Stop the worker and the server; drop the database and the Redis keys."""

        async def down() -> None:
            try:
                if self.worker_task is not None:
                    self.worker.shutdown()
                    with contextlib.suppress(asyncio.CancelledError):
                        await asyncio.wait_for(self.worker_task, 30)
                await self.queue.close()
                await self.store.close()
                await asyncio.wait_for(self.server.shutdown(0.5), SHUTDOWN_TIMEOUT)
            finally:  # never leak a database or Redis keys, even after a hung shutdown
                await drop_database(self.pg_url, self.db_url)
                await drop_queue(self.redis_url, self.prefix)

        self.loop.run(down(), timeout=SHUTDOWN_TIMEOUT * 2)
