"""Health checking: dependency probes and a health servicer that lets watchers go on shutdown.

The standard ``grpc.health.v1`` servicer keeps every ``Watch`` stream open forever. During a
graceful shutdown those streams count as in-flight calls, so one Envoy or client watching
health would hold the drain for the whole grace period. :class:`DrainingHealthServicer`
ends each ``Watch`` once the watcher has been told the service is no longer SERVING.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from grpc_health.v1 import health, health_pb2

__all__ = ["HealthCheck", "DrainingHealthServicer", "SERVING", "NOT_SERVING"]

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass(frozen=True)
class HealthCheck:
    """A dependency probe that decides whether services may report SERVING.

    Attributes:
        name: short name for logs, e.g. ``"postgres"``.
        check: async callable returning True when the dependency is usable. Raising or
            exceeding ``timeout`` counts as False (a hung database is an unhealthy one).
        services: full names of the services this dependency gates; empty means all.
        timeout: seconds one probe may take.
    """

    name: str
    check: Callable[[], Awaitable[bool]]
    services: tuple[str, ...] = ()
    timeout: float = 2.0

    def gates(self, service: str) -> bool:
        """Whether a failure of this check makes ``service`` NOT_SERVING."""
        return not self.services or service in self.services


class _WriteTap:
    """Stands in for the servicer context inside ``Watch``, recording what was written."""

    def __init__(self, context: Any) -> None:
        self._context = context
        self.statuses: list[int] = []
        self.wrote = asyncio.Event()

    async def write(self, message: health_pb2.HealthCheckResponse) -> None:
        await self._context.write(message)
        self.statuses.append(message.status)
        self.wrote.set()


class DrainingHealthServicer(health.aio.HealthServicer):  # type: ignore[misc]
    """``health.aio.HealthServicer`` whose ``Watch`` streams end during graceful shutdown."""

    def __init__(self) -> None:
        super().__init__()
        self._draining = asyncio.Event()

    async def enter_graceful_shutdown(self) -> None:
        """Mark every service NOT_SERVING for good, then release the watchers."""
        await super().enter_graceful_shutdown()
        self._draining.set()

    async def Watch(self, request: health_pb2.HealthCheckRequest, context: Any) -> None:  # noqa: N802
        """Stream status changes; return once a non-SERVING status was sent while draining."""
        tap = _WriteTap(context)
        watch = asyncio.ensure_future(super().Watch(request, tap))
        try:
            while not watch.done():
                if self._draining.is_set() and tap.statuses and tap.statuses[-1] != SERVING:
                    return
                tap.wrote.clear()
                waiters = {
                    asyncio.ensure_future(tap.wrote.wait()),
                    asyncio.ensure_future(self._draining.wait()),
                }
                await asyncio.wait({watch, *waiters}, return_when=asyncio.FIRST_COMPLETED)
                for w in waiters:
                    w.cancel()
            watch.result()
        finally:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
