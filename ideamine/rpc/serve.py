"""The gRPC server skeleton shared by the orchestrator, the agent host and test servers.

:class:`GrpcServer` owns one ``grpc.aio`` server and everything every IdeaMine service
needs around its servicers:

- **binding**: ``host:port`` (port 0 picks a free port; :attr:`GrpcServer.port` tells which),
  insecure or with server credentials;
- **health**: the standard ``grpc.health.v1.Health`` service, driven by real dependency
  checks (:class:`HealthCheck`) polled every ``health_interval`` seconds. A service is
  SERVING only while every check that gates it passes; the overall status (service ``""``)
  only while every check passes — that is *readiness* (Kubernetes readiness probes, Envoy
  health checks). The service name :data:`LIVENESS_SERVICE` (``"liveness"``) is SERVING
  from start until shutdown whatever the dependencies say: it answers as long as the
  event loop does, so a liveness probe restarts a hung process but a PostgreSQL outage
  does not restart every replica;
- **reflection** listing the hosted services (grpcurl, debugging);
- **interceptors**: :class:`~ideamine.rpc.status.ErrorInterceptor` always first (outermost),
  then OpenTelemetry's server spans (when tracing is configured) and gRPC RED metrics
  (:class:`~ideamine.rpc.metrics.MetricsInterceptor`), then the caller's;
- **lifecycle**: ``start()``/``run()``, an idempotent ``shutdown(grace)`` and ``async with``.

Shutdown is two-stage, as in grpclib's ``graceful_exit``: the first SIGTERM/SIGINT marks
every service NOT_SERVING (so load balancers stop routing here), stops accepting calls and
lets in-flight calls finish within the grace period; a second signal exits at once.

Typical use (a service's ``server.py``)::

    server = GrpcServer(
        address=config.listen,
        services=[Service(catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"],
                          CatalogServicer(), catalog_pb2_grpc.add_CatalogServiceServicer_to_server)],
        health_checks=[HealthCheck("postgres", store.ping)],
    )
    await server.run()
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import grpc
from google.protobuf.descriptor import ServiceDescriptor  # type: ignore[import-untyped]
from grpc_health.v1 import health, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from ideamine import metrics, tracing
from ideamine.rpc.health import NOT_SERVING, SERVING, DrainingHealthServicer, HealthCheck
from ideamine.rpc.metrics import MetricsInterceptor
from ideamine.rpc.status import ErrorInterceptor
from ideamine.waiting import cancel_and_wait

__all__ = ["GrpcServer", "HealthCheck", "LIVENESS_SERVICE", "Service"]

#: health service name that is SERVING while the server runs (liveness), dependencies aside
LIVENESS_SERVICE = "liveness"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Service:
    """One servicer to host, with the generated function that registers it.

    Attributes:
        descriptor: the service's descriptor, e.g.
            ``catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"]``; gives the full
            name used by health and reflection.
        servicer: the implementation.
        add_to_server: the generated ``add_<Name>Servicer_to_server`` function.
    """

    descriptor: ServiceDescriptor
    servicer: object
    add_to_server: Callable[[Any, Any], None]

    @property
    def name(self) -> str:
        """Full service name, e.g. ``ideamine.v1.CatalogService``."""
        return str(self.descriptor.full_name)


class GrpcServer:
    """A ``grpc.aio`` server with health, reflection, error mapping and graceful shutdown.

    Lifecycle: construct → ``await start()`` (or ``async with``) → serve → ``await
    shutdown()``. ``run()`` does all of it and adds signal handling; it returns once the
    server has stopped. ``shutdown()`` may be called any number of times, from anywhere;
    a later call with a shorter grace period cuts the drain short.
    """

    def __init__(
        self,
        *,
        services: Sequence[Service],
        address: str = "127.0.0.1:0",
        health_checks: Sequence[HealthCheck] = (),
        interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
        health_interval: float = 5.0,
        grace: float = 10.0,
        reflection_enabled: bool = True,
        credentials: grpc.ServerCredentials | None = None,
        options: Sequence[tuple[str, Any]] = (),
        maximum_concurrent_rpcs: int | None = None,
    ) -> None:
        """Configure the server; nothing is bound or started until :meth:`start`.

        Args:
            services: servicers to host (at least one).
            address: ``host:port`` to listen on; port 0 picks a free port.
            health_checks: dependency probes driving the health service.
            interceptors: server interceptors run after the error interceptor, in order.
            health_interval: seconds between two polls of the health checks.
            grace: default seconds in-flight calls get to finish on shutdown.
            reflection_enabled: whether to serve the reflection service.
            credentials: TLS credentials; None serves plaintext (behind Envoy or in tests).
            options: extra gRPC channel arguments.
            maximum_concurrent_rpcs: refuse calls beyond this many in flight (None = no cap).
        """
        names = [s.name for s in services]
        if not names:
            raise ValueError("GrpcServer needs at least one service")
        if len(set(names)) != len(names) or LIVENESS_SERVICE in names:
            raise ValueError(f"duplicate services (or one named {LIVENESS_SERVICE!r}): {names}")
        unknown = {n for c in health_checks for n in c.services} - set(names)
        if unknown:
            raise ValueError(f"health checks gate services that are not hosted: {sorted(unknown)}")
        self._services = tuple(services)
        self._address = address
        self._checks = tuple(health_checks)
        # error mapping outermost; then a span per RPC (when tracing is on) and RED metrics,
        # so both see what the caller's interceptors (authentication ...) refuse
        self._interceptors = (
            ErrorInterceptor(),
            *tracing.grpc_server_interceptors(),
            MetricsInterceptor(),
            *interceptors,
        )
        self._health_interval = health_interval
        self._grace = grace
        self._reflection = reflection_enabled
        self._credentials = credentials
        self._options = tuple(options)
        self._max_rpcs = maximum_concurrent_rpcs
        self._health = DrainingHealthServicer()
        self._server: grpc.aio.Server | None = None
        self._port: int | None = None
        self._poller: asyncio.Task[None] | None = None
        self._stopping: asyncio.Task[None] | None = None
        self._stop_grace: float | None = None
        self._closed = asyncio.Event()
        self._last_results: dict[str, bool] = {}
        self._signals_seen = 0

    # -- properties ---------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (the real one when the address asked for port 0)."""
        if self._port is None:
            raise RuntimeError("the server is not started")
        return self._port

    @property
    def address(self) -> str:
        """``host:port`` as bound, for clients to dial."""
        host = self._address.rsplit(":", 1)[0]
        return f"{host}:{self.port}"

    @property
    def service_names(self) -> tuple[str, ...]:
        """Full names of the hosted application services."""
        return tuple(s.name for s in self._services)

    @property
    def health_servicer(self) -> DrainingHealthServicer:
        """The health servicer, for callers that set statuses of their own."""
        return self._health

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> int:
        """Bind, register services, evaluate health once, start serving and polling.

        Returns:
            The bound port.

        Raises:
            RuntimeError: when called twice or the address cannot be bound.
        """
        if self._server is not None:
            raise RuntimeError("the server was already started")
        server = grpc.aio.server(
            interceptors=self._interceptors,
            options=self._options,
            maximum_concurrent_rpcs=self._max_rpcs,
        )
        self._server = server
        for s in self._services:
            s.add_to_server(s.servicer, server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        if self._reflection:
            reflection.enable_server_reflection(
                (*self.service_names, health.SERVICE_NAME, reflection.SERVICE_NAME), server
            )
        if self._credentials is None:
            port = server.add_insecure_port(self._address)
        else:
            port = server.add_secure_port(self._address, self._credentials)
        if not port:
            raise RuntimeError(f"cannot bind {self._address}")
        self._port = int(port)
        await self.check_health()  # report reality before the first call can arrive
        # never touched by check_health: only shutdown (NOT_SERVING for everything) ends it
        await self._health.set(LIVENESS_SERVICE, SERVING)
        await server.start()
        self._poller = asyncio.create_task(self._poll_health(), name=f"health-poller:{port}")
        logger.info("serving %s on %s", ", ".join(self.service_names), self.address)
        return self._port

    async def run(self, *, handle_signals: bool = True) -> None:
        """Start (unless started) and serve until shut down.

        Args:
            handle_signals: install SIGTERM/SIGINT handlers: the first signal shuts down
                gracefully, a second one exits at once (``SystemExit(128 + signum)``).
        """
        if self._server is None:
            await self.start()
        loop = asyncio.get_running_loop()
        installed: list[signal.Signals] = []
        if handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self._on_signal, sig)
                installed.append(sig)
        try:
            await self.wait_closed()
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    async def wait_closed(self) -> None:
        """Return once :meth:`shutdown` has completed."""
        await self._closed.wait()

    async def shutdown(self, grace: float | None = None) -> None:
        """Stop gracefully: NOT_SERVING, refuse new calls, drain, stop. Idempotent.

        Args:
            grace: seconds in-flight calls may still take (default: the constructor's);
                calls still running afterwards are cancelled. A second call with a shorter
                grace shortens the drain of the first.
        """
        grace = self._grace if grace is None else grace
        if self._stopping is None:
            self._stop_grace = grace
            self._stopping = asyncio.create_task(self._shutdown(grace), name="grpc-server-shutdown")
        elif self._server is not None and self._stop_grace is not None and grace < self._stop_grace:
            self._stop_grace = grace
            await self._server.stop(grace)
        await asyncio.shield(self._stopping)

    async def _shutdown(self, grace: float) -> None:
        logger.info("shutting down %s (grace %.1fs)", self.service_names, grace)
        if self._poller is not None:
            await cancel_and_wait([self._poller])
        await self._health.enter_graceful_shutdown()
        if self._server is not None:
            await self._server.stop(grace)
        self._closed.set()
        logger.info("stopped %s", self.service_names)

    def _on_signal(self, sig: signal.Signals) -> None:
        self._signals_seen += 1
        if self._signals_seen > 1:
            logger.warning("second %s: exiting without waiting for in-flight calls", sig.name)
            raise SystemExit(128 + sig.value)
        logger.info("%s: draining in-flight calls; send it again to exit at once", sig.name)
        asyncio.get_running_loop().create_task(self.shutdown(), name="grpc-server-signal-shutdown")

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.shutdown()

    # -- health -------------------------------------------------------------------------

    async def _probe(self, check: HealthCheck) -> bool:
        try:  # asyncio.timeout, not wait_for: a shutdown cancelling the poller must stop it
            async with asyncio.timeout(check.timeout):
                return bool(await check.check())
        except TimeoutError:
            logger.warning("health check %s timed out after %.1fs", check.name, check.timeout)
        except Exception:
            logger.warning("health check %s raised", check.name, exc_info=True)
        return False

    async def check_health(self) -> dict[str, bool]:
        """Run every check once, now, and publish the resulting statuses.

        The poller calls this every ``health_interval`` seconds; tests and callers that
        just changed a dependency call it directly instead of waiting.

        Returns:
            Each check's name mapped to whether it passed.
        """
        outcomes = await asyncio.gather(*(self._probe(c) for c in self._checks))
        results = {c.name: ok for c, ok in zip(self._checks, outcomes, strict=True)}
        for name, ok in results.items():
            metrics.DEPENDENCY_UP.labels(dependency=name).set(1 if ok else 0)
            if self._last_results.get(name) != ok:
                log = logger.info if ok else logger.warning
                log("health check %s is %s", name, "passing" if ok else "failing")
        self._last_results = results
        for service in self.service_names:
            ok = all(results[c.name] for c in self._checks if c.gates(service))
            await self._health.set(service, SERVING if ok else NOT_SERVING)
        await self._health.set("", SERVING if all(results.values()) else NOT_SERVING)
        return results

    async def _poll_health(self) -> None:
        while True:
            await asyncio.sleep(self._health_interval)
            await self.check_health()
