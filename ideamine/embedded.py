"""The embedded default: the whole pipeline in one process.

SQLite store, in-process queue, the in-process agent host (a :class:`TaskWorker`) and the
run engine — the same code the distributed services run, composed differently. No
server, no API key: the offline model unless told otherwise, and every artifact it makes
is labelled ``model: offline``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from agent_host.worker import TaskWorker
from ideamine.catalogue import Catalogue, load_catalogue
from ideamine.llm.base import LLMProvider
from ideamine.llm.breaker import BreakerRegistry
from ideamine.plugins import AgentRegistry, get_plugin_manager
from ideamine.queue import open_queue
from ideamine.queue.base import TaskQueue
from ideamine.queue.reconciler import Reconciler
from ideamine.runfile import RunRequest
from ideamine.store.base import RunStore
from ideamine.store.records import Event, NewRun, RunRecord
from ideamine.store.sqlite import open_sqlite
from orchestrator.engine import events as ev
from orchestrator.engine.deps import EngineDeps, EngineSettings
from orchestrator.engine.driver import RunDriver
from orchestrator.engine.signals import Waker

__all__ = ["EmbeddedRuntime", "DB_FILE"]

log = logging.getLogger(__name__)

#: name of the SQLite file inside a run directory
DB_FILE = "ideamine.sqlite3"
#: how often the notice pump publishes outbox rows that no writer's own flush published
_SWEEP_SECONDS = 1.0


class EmbeddedRuntime:
    """One process: store + queue + worker + engine. Use as ``async with``."""

    def __init__(
        self,
        *,
        db_path: str | Path,
        provider: LLMProvider,
        tenant: str = "local",
        concurrency: int = 4,
        extra_plugins: Sequence[Any] = (),
        settings: EngineSettings | None = None,
        catalogue: Catalogue | None = None,
        lease_seconds: float | None = None,
        heartbeat_seconds: float | None = None,
    ) -> None:
        self.db_path = Path(db_path)
        self.provider = provider
        self.tenant = tenant
        self.catalogue = catalogue or load_catalogue()
        d = self.catalogue.defaults
        self.lease_seconds = lease_seconds or d.lease_seconds
        self.heartbeat_seconds = heartbeat_seconds or d.heartbeat_seconds
        self.settings = settings or EngineSettings(lease_seconds=self.lease_seconds)
        self.concurrency = concurrency
        self.extra_plugins = tuple(extra_plugins)
        self.waker = Waker()
        self.store: RunStore
        self.queue: TaskQueue
        self.worker: TaskWorker
        self.registry: AgentRegistry
        self._worker_task: asyncio.Task[None] | None = None
        self._pump_task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> EmbeddedRuntime:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def open(self) -> None:
        """Open the store and queue, load plugins, start the in-process worker."""
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        pm = get_plugin_manager(extra=self.extra_plugins)
        self.registry = AgentRegistry.from_plugin_manager(pm, self.catalogue)
        self.guards = [g for gs in pm.hook.ideamine_register_guards() for g in gs]
        self.store = await open_sqlite(self.db_path)
        self.queue = open_queue("memory://")
        await self.queue.ensure()
        self.reconciler = Reconciler(self.store, self.queue)
        self.worker = TaskWorker(
            store=self.store,
            queue=self.queue,
            registry=self.registry,
            provider=self.provider,
            consumer="embedded-worker",
            concurrency=self.concurrency,
            lease_seconds=self.lease_seconds,
            heartbeat_seconds=self.heartbeat_seconds,
            max_repairs=int(self.catalogue.defaults.retry.get("schema_repairs", 2)),
            breakers=BreakerRegistry.from_catalogue(self.catalogue.defaults.circuit_breaker),
            after_commit=self.flush_outbox,
        )
        await self._recover()
        self._worker_task = asyncio.create_task(self.worker.run(), name="embedded-worker")
        self._pump_task = asyncio.create_task(self._pump_notices(), name="embedded-notices")

    async def _recover(self) -> None:
        """After a crash the in-process queue is empty: re-publish every unfinished task.

        In one process nothing else can be running a RUNNING task, so those go back to
        the queue at once (attempt + 1) instead of waiting for their lease to expire.
        """
        from ideamine.enums import TaskStatus

        for task in await self.store.unfinished_tasks():
            if task.status is TaskStatus.RUNNING:
                await self.store.requeue_task(
                    task.id,
                    attempt=task.attempt,
                    reason="process restarted",
                    events=[
                        Event(
                            ev.TASK_RETRIED,
                            {"reason": "process restarted"},
                            phase=task.phase,
                            task_id=task.id,
                        )
                    ],
                )
        await self.reconciler.publish_outbox()
        await self.reconciler.reconcile()

    async def flush_outbox(self) -> object:
        """Publish pending outbox rows to the in-process queue now."""
        return await self.reconciler.relay()

    async def _pump_notices(self) -> None:
        """Relay completion notices: wake the waiting phase; sweep the outbox now and then.

        Whoever writes an outbox row (the worker after a commit, the engine after creating
        or re-queuing tasks) flushes it at once, so the sweep only catches what a failed
        flush left behind. Sweeping on every pass instead took SQLite's one write lock about
        twenty times a second, and every flush on a task's path queued behind it.
        """
        loop = asyncio.get_running_loop()
        swept = -_SWEEP_SECONDS
        while True:
            if loop.time() - swept >= _SWEEP_SECONDS:
                swept = loop.time()
                await self.reconciler.publish_outbox()
            notices = await self.queue.consume_notices("engine", count=100, block_ms=50)
            for n in notices:
                self.waker.notify(n.message.run_id)
            if notices:
                await self.queue.ack_notices(notices)

    def deps(self) -> EngineDeps:
        """The engine's dependencies over this runtime."""
        return EngineDeps(
            store=self.store,
            registry=self.registry,
            catalogue=self.catalogue,
            guards=self.guards,
            waker=self.waker,
            flush_outbox=self.flush_outbox,
            settings=self.settings,
        )

    async def submit(self, request: RunRequest) -> RunRecord:
        """Create a run from a validated request (status PENDING)."""
        return await self.store.create_run(
            NewRun(
                tenant=self.tenant,
                title=request.title,
                idea=request.idea_document(),
                phases=request.phases,
                budget=request.budget,
                policy=request.policy,
                created_by="cli",
            ),
            events=[Event(ev.RUN_CREATED, {"phases": list(request.phases), "title": request.title})],
        )

    async def drive(self, run_id: str) -> RunRecord:
        """Drive a run until it ends or stops (waiver, budget, input)."""
        return await RunDriver(self.deps()).drive(run_id)

    async def close(self) -> None:
        """Stop the worker (finishing in-flight tasks) and close everything (idempotent)."""
        if self._pump_task is not None:
            self._pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump_task
            self._pump_task = None
        if self._worker_task is not None:
            self.worker.shutdown()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker_task
            self._worker_task = None
        with contextlib.suppress(Exception):
            await self.queue.close()
        with contextlib.suppress(Exception):
            await self.store.close()
        with contextlib.suppress(Exception):
            await self.provider.aclose()
