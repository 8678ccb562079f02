"""The queue semantics, written once over a small stream-primitive interface.

Both :class:`~ideamine.queue.redis_streams.RedisStreamsQueue` and
:class:`~ideamine.queue.memory.MemoryQueue` are a :class:`StreamQueue` over a
:class:`StreamBackend`: the backend provides Redis-Streams-shaped primitives (append
with a length bound, group read, ack+delete, lease touch, idle claim, bury), and this
module adds everything the contract promises on top — message encoding, poison
handling, the per-consumer in-flight bound, dead-letter bookkeeping, notices. Keeping
the semantics in one place is what lets the in-memory queue be "the same queue" rather
than a look-alike.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from ideamine.queue.base import QueueLimits, QueueStats, ReclaimResult
from ideamine.queue.keys import NOTICES_GROUP, TASKS_GROUP, QueueKeys
from ideamine.queue.message import (
    DeadLetter,
    Delivery,
    Fields,
    MalformedMessage,
    Notice,
    RawFields,
    TaskMessage,
)

__all__ = ["RawEntry", "Claimed", "StreamBackend", "StreamQueue", "over_delivered_reason"]

log = logging.getLogger(__name__)

M = TypeVar("M", TaskMessage, Notice)


def over_delivered_reason(max_deliveries: int) -> str:
    """The dead-letter reason for an entry that used up its deliveries."""
    return f"exceeded max_deliveries={max_deliveries}"


@dataclass(frozen=True)
class RawEntry:
    """An entry as a backend returns it, before decoding.

    Attributes:
        id: stream entry id.
        fields: the entry's fields, undecoded.
        deliveries: delivery count including the delivery that returned it.
        previous_consumer: for claimed entries, who held it before ("" otherwise).
    """

    id: str
    fields: RawFields
    deliveries: int
    previous_consumer: str = ""


@dataclass(frozen=True)
class Claimed:
    """Result of :meth:`StreamBackend.claim`: entries taken over, and entries buried."""

    entries: list[RawEntry] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)


class StreamBackend(Protocol):
    """Redis-Streams-shaped primitives over one namespace (one consumer group per stream)."""

    async def create_group(self, stream: str, group: str) -> None:
        """Create the stream and group (group reads from id 0) unless they exist."""
        ...

    async def append(self, stream: str, batch: Sequence[Fields], *, max_length: int) -> list[str]:
        """Append all of ``batch`` atomically, or raise QueueFull and append none."""
        ...

    async def read(
        self, stream: str, group: str, consumer: str, *, count: int, block_ms: int
    ) -> list[RawEntry]:
        """Deliver up to ``count`` never-delivered entries to ``consumer``."""
        ...

    async def ack(self, stream: str, group: str, ids: Sequence[str]) -> int:
        """Acknowledge and delete entries atomically; returns how many were pending."""
        ...

    async def touch(self, stream: str, group: str, consumer: str, entry_id: str) -> bool:
        """Reset the idle time of an entry pending for ``consumer``; False if it is not."""
        ...

    async def claim(
        self,
        stream: str,
        group: str,
        consumer: str,
        *,
        min_idle_ms: int,
        count: int,
        max_deliveries: int | None,
    ) -> Claimed:
        """Take up to ``count`` entries idle ≥ ``min_idle_ms``; bury those past ``max_deliveries``."""
        ...

    async def bury(self, stream: str, group: str, letters: Sequence[DeadLetter]) -> None:
        """Atomically add ``letters`` to the dead-letter stream and ack+delete their sources."""
        ...

    async def pending_of(self, stream: str, group: str, consumer: str, *, limit: int) -> set[str]:
        """Ids of up to ``limit`` entries pending for ``consumer``."""
        ...

    async def field_values(self, stream: str, name: str) -> set[str]:
        """The values of field ``name`` over every entry of ``stream``."""
        ...

    async def read_dead(self, *, count: int) -> list[RawFields]:
        """The oldest ``count`` dead-letter entries."""
        ...

    async def length(self, stream: str) -> int:
        """Entries in ``stream`` (0 when it does not exist)."""
        ...

    async def pending_summary(self, stream: str, group: str) -> dict[str, int]:
        """Pending count per consumer."""
        ...

    async def close(self) -> None:
        """Release resources; idempotent."""
        ...


class StreamQueue:
    """:class:`~ideamine.queue.base.TaskQueue` over a :class:`StreamBackend`.

    Lifecycle: construct, ``await ensure()``, use, ``await close()`` (also via
    ``async with``).
    """

    def __init__(self, backend: StreamBackend, *, keys: QueueKeys, limits: QueueLimits) -> None:
        self.backend = backend
        self.keys = keys
        self.limits = limits
        #: entry ids believed pending per consumer; an upper bound refreshed when full
        self._inflight: dict[str, set[str]] = {}

    async def __aenter__(self) -> StreamQueue:
        await self.ensure()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def ensure(self) -> None:
        """Create streams and groups; idempotent."""
        await self.backend.create_group(self.keys.tasks, TASKS_GROUP)
        await self.backend.create_group(self.keys.notices, NOTICES_GROUP)

    # ----------------------------------------------------------------- tasks
    async def publish(self, messages: Sequence[TaskMessage]) -> list[str]:
        """Append task messages atomically (QueueFull: none appended)."""
        if not messages:
            return []
        batch = [m.encode() for m in messages]
        return await self.backend.append(self.keys.tasks, batch, max_length=self.limits.max_stream_length)

    async def publish_raw(self, fields: Fields) -> str:
        """Append an already-encoded entry without validation.

        For tools that replay dead letters verbatim, and for the contract suite's
        poison-entry tests; services publish :class:`TaskMessage` through :meth:`publish`.
        """
        ids = await self.backend.append(self.keys.tasks, [fields], max_length=self.limits.max_stream_length)
        return ids[0]

    async def consume(
        self, consumer: str, *, count: int = 1, block_ms: int = 0
    ) -> list[Delivery[TaskMessage]]:
        """Take new tasks within the consumer's in-flight room; poison is buried."""
        room = await self._room(consumer)
        if room <= 0 or count <= 0:
            return []
        raws = await self._read(self.keys.tasks, TASKS_GROUP, consumer, min(count, room), block_ms)
        return await self._accept(raws, consumer)

    async def ack(self, deliveries: Sequence[Delivery[TaskMessage]]) -> int:
        """Acknowledge and delete delivered tasks."""
        if not deliveries:
            return 0
        self._forget(deliveries)
        return await self.backend.ack(self.keys.tasks, TASKS_GROUP, [d.entry_id for d in deliveries])

    async def extend(self, delivery: Delivery[TaskMessage]) -> bool:
        """Renew the lease; False when the entry is no longer this consumer's."""
        held = await self.backend.touch(self.keys.tasks, TASKS_GROUP, delivery.consumer, delivery.entry_id)
        if not held:
            self._forget([delivery])
        return held

    async def reclaim(self, consumer: str, *, min_idle_ms: int, count: int = 100) -> ReclaimResult:
        """Take over idle entries; bury those that used up their deliveries."""
        n = min(count, await self._room(consumer))
        if n <= 0:
            return ReclaimResult()
        claimed = await self.backend.claim(
            self.keys.tasks,
            TASKS_GROUP,
            consumer,
            min_idle_ms=min_idle_ms,
            count=n,
            max_deliveries=self.limits.max_deliveries,
        )
        for letter in claimed.dead:
            self._inflight.get(letter.consumer, set()).discard(letter.entry_id)
            log.warning("dead-lettered %s (task %s): %s", letter.entry_id, _task_of(letter), letter.reason)
        for raw in claimed.entries:
            self._inflight.get(raw.previous_consumer, set()).discard(raw.id)
        deliveries = await self._accept(claimed.entries, consumer)
        return ReclaimResult(deliveries=deliveries, dead=[d for d in claimed.dead if d.message is not None])

    async def dead_letter(self, delivery: Delivery[TaskMessage], reason: str) -> None:
        """Bury a held entry with ``reason`` (it leaves the tasks stream)."""
        letter = DeadLetter.of(
            delivery.entry_id,
            delivery.message.encode(),
            reason=reason,
            deliveries=delivery.deliveries,
            consumer=delivery.consumer,
        )
        self._forget([delivery])
        await self.backend.bury(self.keys.tasks, TASKS_GROUP, [letter])

    async def dead_letters(self, *, count: int = 100) -> list[DeadLetter]:
        """The oldest dead letters."""
        return [DeadLetter.decode(f) for f in await self.backend.read_dead(count=count)]

    async def queued_task_ids(self) -> set[str]:
        """Task ids in the tasks stream, pending or not."""
        return await self.backend.field_values(self.keys.tasks, "task_id")

    # --------------------------------------------------------------- notices
    async def publish_notice(self, notice: Notice) -> str:
        """Append a completion notice (QueueFull past the notices bound)."""
        (entry_id,) = await self.publish_notices([notice])
        return entry_id

    async def publish_notices(self, notices: Sequence[Notice]) -> list[str]:
        """Append completion notices atomically (QueueFull: none appended)."""
        if not notices:
            return []
        return await self.backend.append(
            self.keys.notices, [n.encode() for n in notices], max_length=self.limits.max_notices_length
        )

    async def consume_notices(
        self, consumer: str, *, count: int = 100, block_ms: int = 0
    ) -> list[Delivery[Notice]]:
        """Take new notices; malformed ones are acked away (logged)."""
        raws = await self._read(self.keys.notices, NOTICES_GROUP, consumer, count, block_ms)
        return await self._decode_notices(raws, consumer)

    async def reclaim_notices(
        self, consumer: str, *, min_idle_ms: int, count: int = 100
    ) -> list[Delivery[Notice]]:
        """Take over notices a crashed replica left pending."""
        claimed = await self.backend.claim(
            self.keys.notices,
            NOTICES_GROUP,
            consumer,
            min_idle_ms=min_idle_ms,
            count=count,
            max_deliveries=None,
        )
        return await self._decode_notices(claimed.entries, consumer)

    async def ack_notices(self, deliveries: Sequence[Delivery[Notice]]) -> int:
        """Acknowledge and delete notices."""
        if not deliveries:
            return 0
        return await self.backend.ack(self.keys.notices, NOTICES_GROUP, [d.entry_id for d in deliveries])

    # ----------------------------------------------------------------- admin
    async def stats(self) -> QueueStats:
        """Lengths and pending counts of both streams and the dead letters."""
        consumers = await self.backend.pending_summary(self.keys.tasks, TASKS_GROUP)
        notices_pending = await self.backend.pending_summary(self.keys.notices, NOTICES_GROUP)
        return QueueStats(
            length=await self.backend.length(self.keys.tasks),
            pending=sum(consumers.values()),
            dead_letters=await self.backend.length(self.keys.dead),
            consumers=consumers,
            notices_length=await self.backend.length(self.keys.notices),
            notices_pending=sum(notices_pending.values()),
        )

    async def close(self) -> None:
        """Close the backend; idempotent."""
        await self.backend.close()

    # ------------------------------------------------------------- internals
    async def _room(self, consumer: str) -> int:
        held = self._inflight.get(consumer)
        if held is None or len(held) >= self.limits.max_in_flight:
            # First sight of this consumer (it may be a restarted one with leftovers), or
            # apparently full: ask the backend, which knows what was acked or reclaimed.
            held = await self.backend.pending_of(
                self.keys.tasks, TASKS_GROUP, consumer, limit=self.limits.max_in_flight
            )
            self._inflight[consumer] = held
        return self.limits.max_in_flight - len(held)

    async def _read(
        self, stream: str, group: str, consumer: str, count: int, block_ms: int
    ) -> list[RawEntry]:
        block = max(0, min(block_ms, self.limits.max_block_ms))
        return await self.backend.read(stream, group, consumer, count=count, block_ms=block)

    def _forget(self, deliveries: Sequence[Delivery[TaskMessage]]) -> None:
        for d in deliveries:
            self._inflight.get(d.consumer, set()).discard(d.entry_id)

    async def _accept(self, raws: Sequence[RawEntry], consumer: str) -> list[Delivery[TaskMessage]]:
        good, bad = _split(raws, consumer, TaskMessage.decode)
        held = self._inflight.setdefault(consumer, set())
        held.update(d.entry_id for d in good)
        if bad:
            letters = [
                DeadLetter.of(
                    r.id, r.fields, reason=f"malformed: {err}", deliveries=r.deliveries, consumer=consumer
                )
                for r, err in bad
            ]
            for letter in letters:
                log.warning("dead-lettered poison entry %s: %s", letter.entry_id, letter.reason)
            await self.backend.bury(self.keys.tasks, TASKS_GROUP, letters)
        return good

    async def _decode_notices(self, raws: Sequence[RawEntry], consumer: str) -> list[Delivery[Notice]]:
        good, bad = _split(raws, consumer, Notice.decode)
        if bad:
            for r, err in bad:
                log.warning("dropped malformed notice %s: %s", r.id, err)
            await self.backend.ack(self.keys.notices, NOTICES_GROUP, [r.id for r, _ in bad])
        return good


def _split(
    raws: Sequence[RawEntry], consumer: str, decode: Callable[[RawFields], M]
) -> tuple[list[Delivery[M]], list[tuple[RawEntry, MalformedMessage]]]:
    good: list[Delivery[M]] = []
    bad: list[tuple[RawEntry, MalformedMessage]] = []
    for r in raws:
        try:
            good.append(Delivery(decode(r.fields), r.id, r.deliveries, consumer))
        except MalformedMessage as err:
            bad.append((r, err))
    return good, bad


def _task_of(letter: DeadLetter) -> str:
    return letter.message.task_id if letter.message else letter.fields.get("task_id", "")
