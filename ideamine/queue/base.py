"""The ``TaskQueue`` protocol: the task transport between orchestrator and agent hosts.

Two implementations pass one contract suite (``tests/queue/``): Redis Streams
(``redis_streams.py``, distributed mode) and an in-process queue (``memory.py``,
embedded mode). Redis commands live only in this package.

Semantics both keep (DESIGN §3):

- **At-least-once.** A delivered entry stays *pending* for its consumer until
  :meth:`TaskQueue.ack`; if the consumer dies, another one takes it over with
  :meth:`TaskQueue.reclaim` once it has been idle for the lease. The store's
  idempotency keys turn that into exactly-once *effect*.
- **Leases.** A worker running a long task calls :meth:`TaskQueue.extend` every
  heartbeat; that resets the entry's idle time, so reclaim leaves it alone.
- **Bounded redelivery.** An entry whose delivery count would exceed
  ``max_deliveries`` is moved to the dead-letter stream with a reason and returned in
  :attr:`ReclaimResult.dead` so the caller marks the task DEAD in the store.
- **Poison entries** that do not decode are dead-lettered on sight, never returned.
- **Back-pressure, not growth.** Publishing past ``max_stream_length`` raises
  :class:`~ideamine.errors.QueueFull` and publishes nothing of that batch.
- **Nothing pending is ever trimmed.** Acked entries are deleted; nothing else is.
- A lost backend raises :class:`~ideamine.errors.QueueUnavailable` (retryable).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ideamine.queue.message import DeadLetter, Delivery, Notice, TaskMessage

__all__ = ["TaskQueue", "QueueLimits", "ReclaimResult", "QueueStats"]


@dataclass(frozen=True, kw_only=True)
class QueueLimits:
    """Bounds of one queue; the defaults suit a production deployment.

    Attributes:
        max_stream_length: backlog (undelivered + pending) at which publishing refuses.
        max_notices_length: the same bound for the notices stream.
        max_in_flight: most entries one consumer may hold pending at once; ``consume``
            and ``reclaim`` hand out no more than the room left.
        max_deliveries: deliveries after which an entry is dead-lettered (DESIGN §3.3).
        dead_letter_max_length: approximate cap of the dead-letter stream (oldest go).
        max_block_ms: upper bound of one blocking ``consume`` wait, kept below the
            client's socket timeout so a blocked read never looks like a dead server.
    """

    max_stream_length: int = 100_000
    max_notices_length: int = 100_000
    max_in_flight: int = 256
    max_deliveries: int = 5
    dead_letter_max_length: int = 100_000
    max_block_ms: int = 5_000

    def __post_init__(self) -> None:
        for name in ("max_stream_length", "max_notices_length", "max_in_flight", "max_deliveries"):
            if getattr(self, name) < 1:
                raise ValueError(f"QueueLimits.{name} must be >= 1")


@dataclass(frozen=True)
class ReclaimResult:
    """What one :meth:`TaskQueue.reclaim` pass did.

    Attributes:
        deliveries: entries now held by the reclaiming consumer (delivery count + 1).
        dead: entries that exceeded ``max_deliveries`` and were dead-lettered; the
            caller marks their tasks DEAD in the store with the reason.
    """

    deliveries: list[Delivery[TaskMessage]] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)


@dataclass(frozen=True)
class QueueStats:
    """A snapshot for metrics and health checks.

    Attributes:
        length: entries in the tasks stream (undelivered + pending).
        pending: delivered, not yet acked.
        dead_letters: entries in the dead-letter stream.
        consumers: pending count per consumer name.
        notices_length: entries in the notices stream.
        notices_pending: notices delivered, not yet acked.
    """

    length: int
    pending: int
    dead_letters: int
    consumers: dict[str, int]
    notices_length: int
    notices_pending: int


@runtime_checkable
class TaskQueue(Protocol):
    """Task and notice transport. Lifecycle: construct, ``ensure()``, use, ``close()``."""

    limits: QueueLimits

    async def ensure(self) -> None:
        """Create streams and consumer groups; idempotent, safe on every start."""
        ...

    async def publish(self, messages: Sequence[TaskMessage]) -> list[str]:
        """Append task messages in one round trip; returns their entry ids in order.

        Raises:
            QueueFull: the batch would take the stream past ``max_stream_length``;
                nothing of the batch was published.
            QueueUnavailable: the backend is unreachable (the batch may or may not
                have been written: publishing is at-least-once).
        """
        ...

    async def consume(
        self, consumer: str, *, count: int = 1, block_ms: int = 0
    ) -> list[Delivery[TaskMessage]]:
        """Take up to ``count`` new entries for ``consumer``.

        Waits up to ``block_ms`` (0: do not wait; capped at ``max_block_ms``) when none
        is ready. Never hands out more than the consumer's remaining in-flight room.
        Malformed entries are dead-lettered and left out of the result.
        """
        ...

    async def ack(self, deliveries: Sequence[Delivery[TaskMessage]]) -> int:
        """Acknowledge and delete entries in one round trip; returns how many were pending."""
        ...

    async def extend(self, delivery: Delivery[TaskMessage]) -> bool:
        """Renew the lease on a pending entry (reset its idle time).

        Returns False when the entry is no longer pending for ``delivery.consumer``
        (acked, dead-lettered, or reclaimed by another consumer): the caller has lost
        the task and must stop without committing.
        """
        ...

    async def reclaim(self, consumer: str, *, min_idle_ms: int, count: int = 100) -> ReclaimResult:
        """Take over entries idle for at least ``min_idle_ms`` (a crashed consumer's).

        Entries whose delivery count would pass ``max_deliveries`` are dead-lettered
        instead and returned in :attr:`ReclaimResult.dead`.
        """
        ...

    async def dead_letter(self, delivery: Delivery[TaskMessage], reason: str) -> None:
        """Move a held entry to the dead-letter stream (e.g. a poison task) and ack it."""
        ...

    async def dead_letters(self, *, count: int = 100) -> list[DeadLetter]:
        """The oldest ``count`` dead letters, for operators and tests."""
        ...

    async def queued_task_ids(self) -> set[str]:
        """Task ids of every entry in the tasks stream, pending or not (the reconciler's view)."""
        ...

    async def publish_notice(self, notice: Notice) -> str:
        """Append a completion notice; QueueFull past ``max_notices_length``."""
        ...

    async def publish_notices(self, notices: Sequence[Notice]) -> list[str]:
        """Append completion notices in one call, all or none; QueueFull past the bound."""
        ...

    async def consume_notices(
        self, consumer: str, *, count: int = 100, block_ms: int = 0
    ) -> list[Delivery[Notice]]:
        """Take new notices for an orchestrator replica (malformed ones are dropped)."""
        ...

    async def reclaim_notices(
        self, consumer: str, *, min_idle_ms: int, count: int = 100
    ) -> list[Delivery[Notice]]:
        """Take over notices a crashed replica left pending (notices never dead-letter)."""
        ...

    async def ack_notices(self, deliveries: Sequence[Delivery[Notice]]) -> int:
        """Acknowledge and delete notices; returns how many were pending."""
        ...

    async def stats(self) -> QueueStats:
        """Lengths and pending counts."""
        ...

    async def close(self) -> None:
        """Release connections and wake blocked consumers; idempotent."""
        ...
