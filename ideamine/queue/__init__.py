"""The task transport: Redis Streams in distributed mode, an in-process queue embedded.

``open_queue(url)`` picks the backend from the URL (``redis://…``/``rediss://…`` or
``memory://``); both satisfy :class:`TaskQueue` and pass one contract suite. Redis
commands live only in this package; every key name is in :mod:`ideamine.queue.keys`.
"""

from __future__ import annotations

from ideamine.queue.base import QueueLimits, QueueStats, ReclaimResult, TaskQueue
from ideamine.queue.keys import DEFAULT_PREFIX, QueueKeys
from ideamine.queue.memory import MemoryQueue
from ideamine.queue.message import DeadLetter, Delivery, MalformedMessage, Notice, TaskMessage
from ideamine.queue.redis_streams import RedisStreamsQueue

__all__ = [
    "DEFAULT_PREFIX",
    "DeadLetter",
    "Delivery",
    "MalformedMessage",
    "MemoryQueue",
    "Notice",
    "QueueKeys",
    "QueueLimits",
    "QueueStats",
    "ReclaimResult",
    "RedisStreamsQueue",
    "TaskMessage",
    "TaskQueue",
    "open_queue",
]


def open_queue(url: str, *, prefix: str = DEFAULT_PREFIX, limits: QueueLimits | None = None) -> TaskQueue:
    """Build the queue ``url`` names (not yet connected: call ``await q.ensure()``).

    Args:
        url: ``redis://host:port/db`` (or ``rediss://``, ``unix://``) for Redis Streams,
            ``memory://`` for the in-process queue.
        prefix: key namespace (see :mod:`ideamine.queue.keys`).
        limits: bounds; defaults suit production.

    Raises:
        ValueError: for any other scheme.
    """
    scheme = url.partition("://")[0].lower()
    if scheme in ("redis", "rediss", "unix"):
        return RedisStreamsQueue.from_url(url, prefix=prefix, limits=limits)
    if scheme == "memory":
        return MemoryQueue(prefix=prefix, limits=limits)
    raise ValueError(f"unsupported queue URL scheme {scheme!r} (expected redis:// or memory://)")
