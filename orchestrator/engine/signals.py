"""Wake-ups: how the engine learns that a run's tasks changed without busy polling.

Completion notices arrive on the queue's notices stream; :class:`Waker` turns them into
per-run ``asyncio.Event`` pulses. The store stays the source of truth: a waiter always
re-reads state after waking, and also wakes on a timeout, so a lost notice costs latency,
never correctness.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict

__all__ = ["Waker"]

log = logging.getLogger(__name__)


class Waker:
    """Per-run wake-up events."""

    def __init__(self) -> None:
        self._events: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)

    def notify(self, run_id: str) -> None:
        """Wake everything waiting on ``run_id``."""
        self._events[run_id].set()

    def notify_all(self) -> None:
        """Wake every waiter (shutdown, cancellation)."""
        for e in self._events.values():
            e.set()

    async def wait(self, run_id: str, timeout: float) -> None:  # noqa: ASYNC109 - a bounded nap, by design
        """Wait for a notification of ``run_id`` or ``timeout`` seconds, then re-arm."""
        event = self._events[run_id]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
        event.clear()

    def forget(self, run_id: str) -> None:
        """Drop the event of a finished run."""
        self._events.pop(run_id, None)
