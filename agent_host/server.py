"""The agent-host service: a :class:`~agent_host.worker.TaskWorker` behind a gRPC face.

:class:`AgentHost` composes what one ``ideamine serve agent-host`` process runs:

- the plugins (``get_plugin_manager()``: built-ins and installed third parties, plus any
  ``extra``), checked into an :class:`~ideamine.plugins.AgentRegistry` — a broken plugin
  stops start-up with one error naming it;
- the store (PostgreSQL) and the queue (Redis Streams) the worker consumes from, with
  ``--concurrency`` slots and, with ``--isolation process``, a child per task;
- a :class:`~ideamine.rpc.GrpcServer` serving AgentHostService plus health (SERVING only
  while the store answers a ping and Redis answers a stats read) and reflection;
- :class:`~agent_host.registration.Registration` with the orchestrator (optional, never
  fatal) and an outbox relay after each commit, so completion notices go out at once.

Lifecycle (``run()``): STARTING → SERVING → (SIGTERM, a Drain RPC, or a drain requested
by the orchestrator) DRAINING: stop taking tasks, let running ones finish within the
grace, re-queue what outlives it, publish the last notices, deregister → STOPPED, and
``run()`` returns (exit code 0). A second SIGTERM/SIGINT exits at once.

Lost Redis or PostgreSQL do not end the process: the consume loop logs, backs off and
resumes, health reports NOT_SERVING meanwhile, and anything in flight is healed by leases.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from agent_host.config import HostConfig
from agent_host.isolation import ProcessRunner, ResourceLimits
from agent_host.liveness import LivenessKeeper
from agent_host.registration import Registration, TokenSource, backoff_seconds
from agent_host.servicer import AgentHostServicer, HostState
from agent_host.worker import TaskWorker
from ideamine._proto.ideamine.v1 import agent_host_pb2, agent_host_pb2_grpc
from ideamine.catalogue import load_catalogue
from ideamine.cli.version_cmd import package_version
from ideamine.convert import agent_definition_to_proto
from ideamine.errors import IdeaMineError, InvalidInput
from ideamine.heap import freeze_startup_heap
from ideamine.llm.base import LLMProvider
from ideamine.llm.breaker import BreakerRegistry
from ideamine.llm.providers import make_provider
from ideamine.plugins import AgentRegistry, get_plugin_manager
from ideamine.queue import open_queue
from ideamine.queue.base import TaskQueue
from ideamine.queue.reconciler import Reconciler
from ideamine.rpc import GrpcServer, HealthCheck, Service
from ideamine.store.base import RunStore
from ideamine.store.factory import open_store
from ideamine.waiting import cancel_and_wait, wait_event

__all__ = ["AgentHost"]

log = logging.getLogger(__name__)

_SERVICE = agent_host_pb2.DESCRIPTOR.services_by_name["AgentHostService"]


class AgentHost:
    """One agent-host process. Use ``await host.run()``, or ``start()`` … ``drain()`` in tests.

    Args:
        config: validated settings.
        extra_plugins: further plugin objects to load (tests, embedding applications).
        provider: the LLM provider (default: built from ``config.model``).
    """

    def __init__(
        self,
        config: HostConfig,
        *,
        extra_plugins: Sequence[Any] = (),
        provider: LLMProvider | None = None,
    ) -> None:
        self.config = config
        self.host_id = config.host_id
        self.version = package_version()
        self.capacity = config.concurrency
        self.started_at = datetime.now(UTC)
        self._extra = tuple(extra_plugins)
        self._provider = provider
        self._state = HostState.STARTING
        self.registry: AgentRegistry
        self.store: RunStore
        self.queue: TaskQueue
        self.worker: TaskWorker
        self.server: GrpcServer
        self.registration: Registration | None = None
        self._consuming: asyncio.Task[None] | None = None
        self._registering: asyncio.Task[None] | None = None
        self._keeping_alive: asyncio.Task[None] | None = None
        self._drain: asyncio.Task[None] | None = None
        self._draining = asyncio.Event()
        self._stopped = asyncio.Event()
        self._signals = 0

    # -- what the servicer reads ----------------------------------------------------------

    @property
    def state(self) -> HostState:
        """Current state."""
        return self._state

    @property
    def running_task_ids(self) -> list[str]:
        """Tasks being handled now."""
        return self.worker.running_task_ids

    @property
    def address(self) -> str:
        """The gRPC address (bound port) others dial; ``--advertise`` when given."""
        if self.config.advertise:
            return self.config.advertise
        host, _, _ = self.config.listen.rpartition(":")
        if host in ("0.0.0.0", "[::]", "::"):
            host = socket.gethostname()
        return f"{host}:{self.server.port}"

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Load plugins, open store and queue, serve gRPC, start consuming and registering.

        Raises:
            PluginError: a plugin failed to load or declared an agent wrongly.
            InvalidInput: a bad database URL or model spec, or the listen address is taken.
            StoreUnavailable, QueueUnavailable: PostgreSQL or Redis cannot be reached.
        """
        try:
            await self._start()
        except BaseException:
            await self._close()  # whatever was opened before the failure
            raise

    async def _start(self) -> None:
        cfg = self.config
        catalogue = load_catalogue()
        self.registry = AgentRegistry.from_plugin_manager(get_plugin_manager(extra=self._extra), catalogue)
        provider = self._provider or make_provider(cfg.model, anthropic=cfg.anthropic)
        self._provider = provider
        self.store = await open_store(cfg.database_url)
        self.queue = open_queue(cfg.redis_url, prefix=cfg.queue_prefix)
        await self.queue.ensure()
        self._reconciler = Reconciler(self.store, self.queue, owner=f"agent-host-{self.host_id}")
        runner = None
        if cfg.isolation == "process":
            limits = ResourceLimits(
                memory_bytes=cfg.memory_limit_mb * 1024 * 1024, cpu_seconds=cfg.cpu_limit_seconds
            )
            runner = ProcessRunner(limits=limits)
        self.worker = TaskWorker(
            store=self.store,
            queue=self.queue,
            registry=self.registry,
            provider=provider,
            consumer=self.host_id,
            concurrency=cfg.concurrency,
            lease_seconds=cfg.lease_seconds,
            heartbeat_seconds=cfg.heartbeat_seconds,
            max_repairs=int(catalogue.defaults.retry.get("schema_repairs", 2)),
            breakers=BreakerRegistry.from_catalogue(catalogue.defaults.circuit_breaker),
            runner=runner,
            after_commit=self.publish_outbox,
        )
        self.server = GrpcServer(
            services=[
                Service(
                    _SERVICE,
                    AgentHostServicer(self),
                    agent_host_pb2_grpc.add_AgentHostServiceServicer_to_server,
                )
            ],
            address=cfg.listen,
            health_checks=[HealthCheck("postgres", self.store.ping), HealthCheck("redis", self._redis_ok)],
            health_interval=max(cfg.heartbeat_seconds, 1.0),
            grace=1.0,
        )
        try:
            await self.server.start()
        except RuntimeError as exc:  # the address is taken or not ours
            raise InvalidInput(f"cannot listen on {cfg.listen}: {exc}", field="listen") from None
        # the liveness lock before the first task: a crash from here on frees it at once
        keeper = LivenessKeeper(self.store, self.host_id)
        await keeper.hold()
        self._keeping_alive = asyncio.create_task(keeper.run(), name="agent-host-liveness")
        self._consuming = asyncio.create_task(self._consume(), name="agent-host-consume")
        if cfg.orchestrator:
            self.registration = Registration(
                target=cfg.orchestrator,
                request=self._register_request(),
                load=lambda: (self._state, self.worker.busy),
                heartbeat_seconds=cfg.heartbeat_seconds,
                tokens=TokenSource(
                    token=cfg.orchestrator_token,
                    hs256_secret=cfg.jwt_hs256_secret,
                    issuer=cfg.jwt_issuer,
                    audience=cfg.jwt_audience,
                    subject=f"agent-host:{self.host_id}",
                ),
                on_drain_requested=lambda: self.request_drain(None),
            )
            self._registering = asyncio.create_task(self.registration.run(), name="agent-host-registration")
        else:
            log.warning("no --orchestrator given: host %s runs without registering", self.host_id)
        self._state = HostState.SERVING
        log.info(
            "agent host %s serving on %s: %d agents, concurrency %d, isolation %s, model %s",
            self.host_id,
            self.address,
            len(self.registry.agents),
            cfg.concurrency,
            cfg.isolation,
            provider.name,
        )

    def _register_request(self) -> agent_host_pb2.RegisterHostRequest:
        return agent_host_pb2.RegisterHostRequest(
            host_id=self.host_id,
            address=self.address,
            version=self.version,
            capacity=self.capacity,
            agents=[agent_definition_to_proto(e) for e in self.registry.agents],
            labels={"name": self.config.name or self.host_id, "isolation": self.config.isolation},
        )

    async def _redis_ok(self) -> bool:
        await self.queue.stats()
        return True

    async def _consume(self) -> None:
        """Run the worker; a lost backend is logged and retried, never the end of the host."""
        failures = 0
        while not self._draining.is_set():
            try:
                await self.worker.run()
            except Exception as exc:  # the host outlives a lost backend (and a bug in one pass)
                failures += 1
                delay = backoff_seconds(failures, cap=10.0)
                log.warning("consuming failed (%s); retrying in %.1fs", exc, delay, exc_info=True)
                await wait_event(self._draining, delay)
            else:
                failures = 0

    async def publish_outbox(self) -> None:
        """Relay the notices (and re-queued tasks) this host committed from the outbox to the queue now.

        Called after each commit so the completion notice goes out at once rather than
        on the orchestrator's next sweep. The rows were inserted already claimed for this
        host's relay (``Reconciler.relay``), so no other relay publishes them too, and
        no claim statement is spent on them; rows of other processes are left to the
        orchestrator's sweep.
        """
        await self._reconciler.relay()

    def request_drain(self, grace: float | None) -> None:
        """Start draining in the background (idempotent); None uses ``--grace-seconds``."""
        if self._drain is None:
            self._drain = asyncio.get_running_loop().create_task(self.drain(grace), name="agent-host-drain")

    async def drain(self, grace: float | None = None) -> None:
        """Stop taking work, finish in-flight tasks within ``grace``, deregister, close. Idempotent."""
        if self._state in (HostState.DRAINING, HostState.STOPPED):
            await self._stopped.wait()
            return
        grace = self.config.grace_seconds if grace is None else grace
        self._state = HostState.DRAINING
        self._draining.set()
        log.info("draining host %s: %d tasks in flight, grace %.1fs", self.host_id, self.worker.busy, grace)
        if self.registration is not None:
            self.registration.beat_now()
        await self.worker.drain(grace)
        # the consume loop ends after its current blocking read; only then publish the
        # re-queued attempts, so this host cannot take them back
        if self._consuming is not None:
            await asyncio.gather(self._consuming, return_exceptions=True)
        with contextlib.suppress(IdeaMineError):
            await self.publish_outbox()
        self._state = HostState.STOPPED
        if self.registration is not None:
            await self.registration.stop()
            if self._registering is not None:
                await asyncio.gather(self._registering, return_exceptions=True)
        await self.server.shutdown(grace=1.0)
        await self._close()
        self._stopped.set()
        log.info("host %s stopped", self.host_id)

    async def _close(self) -> None:
        """Close queue, store and provider (those that were opened; errors are moot now).

        Closing the store ends the liveness session, so the lock goes only after every
        in-flight task was finished or handed back.
        """
        if self._keeping_alive is not None:
            await cancel_and_wait([self._keeping_alive])
        with contextlib.suppress(Exception):
            await self.queue.close()
        with contextlib.suppress(Exception):
            await self.store.close()
        if self._provider is not None:
            with contextlib.suppress(Exception):
                await self._provider.aclose()

    async def run(self, *, handle_signals: bool = True, freeze_heap: bool = False) -> None:
        """Start, serve until drained; the first SIGTERM/SIGINT drains, a second exits at once.

        ``freeze_heap``: this host is the process (``ideamine serve agent-host``): once
        started, exempt its startup heap from full collections (:mod:`ideamine.heap`).
        """
        await self.start()
        loop = asyncio.get_running_loop()
        if handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self._on_signal, sig)
        if freeze_heap:  # after the signal handlers: no window where SIGTERM would kill it outright
            freeze_startup_heap()
        try:
            await self._stopped.wait()
            if self._drain is not None:
                await self._drain  # surfaces an exception raised while draining
        finally:
            if handle_signals:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        self._signals += 1
        if self._signals > 1:
            log.warning("second %s: exiting without waiting for in-flight tasks", sig.name)
            raise SystemExit(128 + sig.value)
        log.info("%s: draining (send it again to exit at once)", sig.name)
        self.request_drain(None)
