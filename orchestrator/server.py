"""The orchestrator service: composition root of the gRPC API and the run owner.

:class:`OrchestratorServer` opens PostgreSQL (the store) and Redis (the queue), loads the
plugins (agent registry, guards, Markdown renderers), and runs two things side by side:

- a :class:`~ideamine.rpc.GrpcServer` with every public service plus HostRegistryService,
  health checks that really ping PostgreSQL and Redis, reflection, the error interceptor
  and the :class:`~orchestrator.auth.AuthInterceptor`;
- a :class:`~orchestrator.owner.RunOwner` that adopts runs through leases and drives them.

Lifecycle: ``await server.start()`` (returns the bound port) … ``await server.shutdown()``,
or ``async with``, or ``await server.run()`` which also handles SIGTERM/SIGINT (first
signal drains, second exits). ``shutdown(release=False)`` keeps the run leases, as a
crash would (tests of takeover).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

from ideamine.catalogue import Catalogue, load_catalogue
from ideamine.heap import freeze_startup_heap
from ideamine.plugins import AgentRegistry, get_plugin_manager
from ideamine.queue import open_queue
from ideamine.queue.base import TaskQueue
from ideamine.rpc import GrpcServer, HealthCheck
from ideamine.store.base import RunStore
from ideamine.store.factory import open_store
from orchestrator.auth import AuthInterceptor, TokenVerifier
from orchestrator.config import OrchestratorConfig
from orchestrator.engine.deps import EngineDeps, EngineSettings
from orchestrator.engine.signals import Waker
from orchestrator.owner import RunOwner
from orchestrator.servicers import App, build_services
from orchestrator.watch import WatchHub

__all__ = ["OrchestratorServer"]

log = logging.getLogger(__name__)


T = TypeVar("T")


def _started(value: T | None) -> T:
    if value is None:
        raise RuntimeError("the orchestrator is not started")
    return value


class OrchestratorServer:
    """One orchestrator replica: API + run ownership over shared PostgreSQL and Redis."""

    def __init__(
        self,
        config: OrchestratorConfig,
        *,
        extra_plugins: Sequence[Any] = (),
        catalogue: Catalogue | None = None,
        settings: EngineSettings | None = None,
    ) -> None:
        """Configure; nothing is opened until :meth:`start`.

        Args:
            config: the validated settings.
            extra_plugins: plugin objects to register besides the entry points (tests).
            catalogue: the phase catalogue (default: the packaged one).
            settings: engine timing (default: the engine's defaults).
        """
        self.config = config
        self.extra_plugins = tuple(extra_plugins)
        self.catalogue = catalogue or load_catalogue()
        self.settings = settings or EngineSettings()
        self._store: RunStore | None = None
        self._queue: TaskQueue | None = None
        self._owner: RunOwner | None = None
        self._grpc: GrpcServer | None = None
        self._started = False
        self._closed = False

    @property
    def store(self) -> RunStore:
        """The store (once started)."""
        return _started(self._store)

    @property
    def queue(self) -> TaskQueue:
        """The task queue (once started)."""
        return _started(self._queue)

    @property
    def owner(self) -> RunOwner:
        """This replica's run owner (once started)."""
        return _started(self._owner)

    @property
    def grpc(self) -> GrpcServer:
        """The gRPC server (once started)."""
        return _started(self._grpc)

    @property
    def port(self) -> int:
        """The bound gRPC port."""
        return self.grpc.port

    @property
    def address(self) -> str:
        """``host:port`` for clients to dial."""
        return self.grpc.address

    async def _redis_ok(self) -> bool:
        await self.queue.stats()  # streams and consumer groups answer
        return True

    async def start(self) -> int:
        """Open the dependencies, start serving and owning runs; returns the bound port.

        Whatever was opened is closed again when a later step fails (a database that
        is not migrated, Redis unreachable, the port taken), so a failed start leaks
        no connections.
        """
        if self._started:
            raise RuntimeError("the orchestrator was already started")
        self._started = True
        try:
            return await self._start()
        except BaseException:
            self._closed = True
            await self._close_resources()
            raise

    async def _start(self) -> int:
        cfg = self.config
        pm = get_plugin_manager(extra=self.extra_plugins)
        registry = AgentRegistry.from_plugin_manager(pm, self.catalogue)
        guards = [g for gs in pm.hook.ideamine_register_guards() for g in gs]
        verifier = None if cfg.insecure_local else TokenVerifier(cfg.jwt)
        self._store = await open_store(cfg.database_url)
        self._queue = open_queue(cfg.redis_url, prefix=cfg.queue_prefix)
        await self.queue.ensure()
        waker, hub = Waker(), WatchHub()

        def deps(store: RunStore) -> EngineDeps:
            return EngineDeps(
                store=store,
                registry=registry,
                catalogue=self.catalogue,
                guards=guards,
                waker=waker,
                flush_outbox=self.owner.flush_outbox,
                settings=self.settings,
            )

        self._owner = RunOwner(
            store=self.store,
            queue=self.queue,
            replica_id=cfg.replica_id,
            deps_factory=deps,
            waker=waker,
            lease_seconds=cfg.lease_seconds,
            reconcile_seconds=cfg.reconcile_seconds,
            lost_worker_seconds=cfg.lost_worker_seconds,
            outbox_poll_seconds=cfg.outbox_poll_seconds,
            max_active_runs=cfg.max_active_runs,
            on_wake=hub.poke,
        )
        app = App(
            store=self.store,
            catalogue=self.catalogue,
            registry=registry,
            plugins=pm,
            config=cfg,
            wake=self.owner.wake,
            flush_outbox=self.owner.flush_outbox,
        )
        self._grpc = GrpcServer(
            services=build_services(app, hub),
            address=cfg.listen,
            health_checks=[HealthCheck("postgres", self.store.ping), HealthCheck("redis", self._redis_ok)],
            interceptors=[AuthInterceptor(verifier)],
            health_interval=cfg.health_interval,
            grace=cfg.grace_seconds,
        )
        port = await self.grpc.start()
        self.owner.start()
        log.info("orchestrator replica %s serving on %s", cfg.replica_id, self.grpc.address)
        return port

    async def run(self, *, freeze_heap: bool = False) -> None:
        """Start (unless started), serve until a signal or :meth:`shutdown`, then clean up.

        ``freeze_heap``: this server is the process (``ideamine serve orchestrator``): once
        started, exempt its startup heap from full collections (:mod:`ideamine.heap`).
        """
        if not self._started:
            await self.start()
        if freeze_heap:  # once serving has installed its signal handlers: no window without them
            asyncio.get_running_loop().call_soon(freeze_startup_heap)
        try:
            await self.grpc.run(handle_signals=True)
        finally:
            await self.shutdown()

    async def shutdown(self, grace: float | None = None, *, release: bool = True) -> None:
        """Stop serving (draining calls), stop owning runs, close connections. Idempotent.

        Args:
            grace: seconds in-flight calls may take (default: the configured grace).
            release: give the run leases back so another replica adopts them at once.
        """
        if self._closed or not self._started:
            return
        self._closed = True
        await self._close_resources(grace, release=release)

    async def _close_resources(self, grace: float | None = None, *, release: bool = True) -> None:
        if self._grpc is not None:
            await self._grpc.shutdown(grace)
        if self._owner is not None:
            await self._owner.shutdown(release=release)
        if self._queue is not None:
            await self._queue.close()
        if self._store is not None:
            await self._store.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.shutdown()
