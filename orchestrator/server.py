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

import logging
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

from ideamine.catalogue import Catalogue, load_catalogue
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
        self.store: RunStore
        self.queue: TaskQueue
        self.owner: RunOwner
        self.grpc: GrpcServer
        self._started = False
        self._closed = False

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
        """Open the dependencies, start serving and owning runs; returns the bound port."""
        if self._started:
            raise RuntimeError("the orchestrator was already started")
        self._started = True
        cfg = self.config
        pm = get_plugin_manager(extra=self.extra_plugins)
        registry = AgentRegistry.from_plugin_manager(pm, self.catalogue)
        guards = [g for gs in pm.hook.ideamine_register_guards() for g in gs]
        verifier = None if cfg.insecure_local else TokenVerifier(cfg.jwt)
        self.store = await open_store(cfg.database_url)
        self.queue = open_queue(cfg.redis_url, prefix=cfg.queue_prefix)
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

        self.owner = RunOwner(
            store=self.store,
            queue=self.queue,
            replica_id=cfg.replica_id,
            deps_factory=deps,
            waker=waker,
            lease_seconds=cfg.lease_seconds,
            reconcile_seconds=cfg.reconcile_seconds,
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
        self.grpc = GrpcServer(
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

    async def run(self) -> None:
        """Start (unless started), serve until a signal or :meth:`shutdown`, then clean up."""
        if not self._started:
            await self.start()
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
        await self.grpc.shutdown(grace)
        await self.owner.shutdown(release=release)
        await self.queue.close()
        await self.store.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.shutdown()
