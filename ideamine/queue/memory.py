"""The embedded mode's in-process queue: Redis Streams semantics without Redis.

It is a real queue, not a stand-in: one consumer group per stream with a pending
entries list (owner, last-delivery time, delivery count), idle-time reclaim, lease
extension, dead letters, back-pressure and blocking reads. It passes the same contract
suite as the Redis queue because the semantics above the primitives are shared
(:mod:`ideamine.queue._core`); this module only implements the primitives.

Idle times come from an injectable monotonic clock (wall-clock jumps must not expire or
extend leases). Blocking reads wait on an :class:`asyncio.Condition` that every append
notifies. Everything runs on one event loop, so no operation needs a lock beyond the
condition.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ideamine.errors import QueueFull
from ideamine.queue._core import Claimed, RawEntry, StreamQueue, over_delivered_reason
from ideamine.queue.base import QueueLimits
from ideamine.queue.keys import QueueKeys
from ideamine.queue.message import DeadLetter, Fields, RawFields

__all__ = ["MemoryQueue", "MemoryBackend"]

Clock = Callable[[], float]


def _key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq)


@dataclass
class _Pending:
    consumer: str
    delivered_at: float  #: clock() at the last delivery or touch
    deliveries: int


class _Stream:
    """One stream with at most one consumer group."""

    def __init__(self) -> None:
        self.entries: dict[str, Fields] = {}  # insertion order == id order
        self.undelivered: deque[str] = deque()
        self.pending: dict[str, _Pending] = {}
        self.by_consumer: dict[str, int] = {}
        self.changed = asyncio.Condition()
        self._last = (0, 0)

    def next_id(self) -> str:
        ms = time.time_ns() // 1_000_000
        last_ms, last_seq = self._last
        self._last = (ms, 0) if ms > last_ms else (last_ms, last_seq + 1)
        return f"{self._last[0]}-{self._last[1]}"

    def own(self, entry_id: str, consumer: str, now: float, deliveries: int) -> None:
        old = self.pending.get(entry_id)
        if old is not None:
            self.by_consumer[old.consumer] -= 1
        self.pending[entry_id] = _Pending(consumer, now, deliveries)
        self.by_consumer[consumer] = self.by_consumer.get(consumer, 0) + 1

    def release(self, entry_id: str) -> bool:
        """Ack + delete one entry; True if it was pending."""
        self.entries.pop(entry_id, None)
        old = self.pending.pop(entry_id, None)
        if old is None:
            return False
        self.by_consumer[old.consumer] -= 1
        return True

    def take_new(self, count: int) -> list[str]:
        out: list[str] = []
        while self.undelivered and len(out) < count:
            entry_id = self.undelivered.popleft()
            if entry_id in self.entries:  # skip entries deleted before delivery
                out.append(entry_id)
        return out


class MemoryBackend:
    """In-process stream primitives for :class:`MemoryQueue`."""

    def __init__(
        self, *, keys: QueueKeys, dead_letter_max_length: int, clock: Clock = time.monotonic
    ) -> None:
        self._keys = keys
        self._clock = clock
        self._streams: dict[str, _Stream] = {}
        self._dead: deque[Fields] = deque(maxlen=dead_letter_max_length)
        self._closed = False

    def _stream(self, name: str) -> _Stream:
        s = self._streams.get(name)
        if s is None:
            s = self._streams[name] = _Stream()
        return s

    async def create_group(self, stream: str, group: str) -> None:
        """Streams and their single group are created on first use."""
        self._stream(stream)

    async def append(self, stream: str, batch: Sequence[Fields], *, max_length: int) -> list[str]:
        """Append all or none (QueueFull)."""
        s = self._stream(stream)
        if len(s.entries) + len(batch) > max_length:
            raise QueueFull(
                f"stream {stream} holds {len(s.entries)} entries; limit {max_length}",
                length=len(s.entries),
                limit=max_length,
            )
        ids = []
        for fields in batch:
            entry_id = s.next_id()
            s.entries[entry_id] = dict(fields)
            s.undelivered.append(entry_id)
            ids.append(entry_id)
        async with s.changed:
            s.changed.notify_all()
        return ids

    async def read(
        self, stream: str, group: str, consumer: str, *, count: int, block_ms: int
    ) -> list[RawEntry]:
        """Deliver new entries, waiting up to ``block_ms`` for the first."""
        s = self._stream(stream)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + block_ms / 1000
        ids = s.take_new(count)
        while not ids and not self._closed and (remaining := deadline - loop.time()) > 0:
            async with s.changed:
                try:  # asyncio.timeout, not wait_for: see ideamine.waiting
                    async with asyncio.timeout(remaining):
                        await s.changed.wait_for(lambda: self._closed or bool(s.undelivered))
                except TimeoutError:
                    break
            ids = s.take_new(count)  # another reader may have taken them first: wait again
        now = self._clock()
        for entry_id in ids:
            s.own(entry_id, consumer, now, 1)
        return [RawEntry(entry_id, s.entries[entry_id], 1) for entry_id in ids]

    async def ack(self, stream: str, group: str, ids: Sequence[str]) -> int:
        """Ack and delete."""
        s = self._stream(stream)
        return sum(s.release(entry_id) for entry_id in ids)

    async def touch(self, stream: str, group: str, consumer: str, entry_id: str) -> bool:
        """Reset idle time if ``consumer`` still holds the entry."""
        p = self._stream(stream).pending.get(entry_id)
        if p is None or p.consumer != consumer:
            return False
        p.delivered_at = self._clock()
        return True

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
        """Scan the pending list in id order, like XPENDING IDLE + XCLAIM."""
        s = self._stream(stream)
        now = self._clock()
        out = Claimed()
        for entry_id in sorted(s.pending, key=_key):
            if len(out.entries) + len(out.dead) >= count:
                break
            p = s.pending[entry_id]
            if (now - p.delivered_at) * 1000 < min_idle_ms:
                continue
            if entry_id not in s.entries:  # deleted under the group: drop, as XCLAIM does
                s.release(entry_id)
                continue
            if max_deliveries is not None and p.deliveries >= max_deliveries:
                out.dead.append(
                    DeadLetter.of(
                        entry_id,
                        s.entries[entry_id],
                        reason=over_delivered_reason(max_deliveries),
                        deliveries=p.deliveries,
                        consumer=p.consumer,
                    )
                )
                continue
            out.entries.append(RawEntry(entry_id, s.entries[entry_id], p.deliveries + 1, p.consumer))
            s.own(entry_id, consumer, now, p.deliveries + 1)
        await self.bury(stream, group, out.dead)
        return out

    async def bury(self, stream: str, group: str, letters: Sequence[DeadLetter]) -> None:
        """Move to the dead letters, then ack + delete the sources."""
        s = self._stream(stream)
        for letter in letters:
            self._dead.append(letter.encode())
            s.release(letter.entry_id)

    async def pending_of(self, stream: str, group: str, consumer: str, *, limit: int) -> set[str]:
        """Entries pending for ``consumer``."""
        held = (i for i, p in self._stream(stream).pending.items() if p.consumer == consumer)
        return {i for _, i in zip(range(limit), held, strict=False)}

    async def field_values(self, stream: str, name: str) -> set[str]:
        """Values of one field over the whole stream."""
        return {str(v) for f in self._stream(stream).entries.values() if (v := f.get(name))}

    async def read_dead(self, *, count: int) -> list[RawFields]:
        """The oldest dead letters."""
        return [dict(f) for _, f in zip(range(count), self._dead, strict=False)]

    async def length(self, stream: str) -> int:
        """Entries in the stream (the dead-letter stream included)."""
        if stream == self._keys.dead:
            return len(self._dead)
        return len(self._stream(stream).entries)

    async def pending_summary(self, stream: str, group: str) -> dict[str, int]:
        """Pending count per consumer (consumers holding nothing are left out)."""
        return {c: n for c, n in self._stream(stream).by_consumer.items() if n}

    async def close(self) -> None:
        """Wake every blocked reader; later reads do not block."""
        self._closed = True
        for s in self._streams.values():
            async with s.changed:
                s.changed.notify_all()


class MemoryQueue(StreamQueue):
    """The in-process :class:`~ideamine.queue.base.TaskQueue` of the embedded mode."""

    def __init__(
        self,
        *,
        prefix: str = "ideamine",
        limits: QueueLimits | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        keys = QueueKeys(prefix)
        limits = limits or QueueLimits()
        super().__init__(
            MemoryBackend(keys=keys, dead_letter_max_length=limits.dead_letter_max_length, clock=clock),
            keys=keys,
            limits=limits,
        )
