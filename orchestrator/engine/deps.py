"""What the engine runs on: store, queue relay, agent directory, guards, settings."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from ideamine.catalogue import Catalogue
from ideamine.guards import Guard
from ideamine.plugins import AgentRegistry
from ideamine.store.base import RunStore
from orchestrator.engine.signals import Waker

__all__ = ["EngineSettings", "EngineDeps"]


@dataclass(frozen=True)
class EngineSettings:
    """Engine timing and bounds (defaults from the catalogue's cross-phase defaults)."""

    #: how long a waiter sleeps without a notice before re-reading the store
    poll_seconds: float = 0.5
    #: lease a worker holds on a running task; expired → stalled → healed
    lease_seconds: float = 15.0
    #: transient task failures retried this many times per task before the phase fails
    max_task_retries: int = 4
    retry_initial_seconds: float = 1.0
    retry_max_seconds: float = 60.0
    #: how long a blocking question waits for a human before its assumption stands
    answer_deadline_seconds: float = 24 * 3600.0


@dataclass
class EngineDeps:
    """Everything the engine needs; built by the composition roots (embedded, service)."""

    store: RunStore
    registry: AgentRegistry
    catalogue: Catalogue
    guards: Sequence[Guard]
    waker: Waker
    #: publishes pending outbox rows to the queue now (the relay); None when another process does
    flush_outbox: Callable[[], Awaitable[object]] | None = None
    settings: EngineSettings = field(default_factory=EngineSettings)
