"""Wake-ups: how the engine learns that a run's tasks changed without busy polling.

Completion notices arrive on the queue's notices stream; :class:`Waker` turns them into
per-run ``asyncio.Event`` pulses. The store stays the source of truth: a waiter always
re-reads state after waking, and also wakes on a timeout, so a lost notice costs latency,
never correctness.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

from ideamine.waiting import wait_event

__all__ = ["Waker"]

log = logging.getLogger(__name__)


class Waker:
    """Per-run wake-ups that no waiter misses.

    Each run has a notification counter; each waiting task remembers the count it last
    woke on. A notice that arrives while a waiter is busy (re-reading the store between
    two waits) is therefore still pending for that waiter when it waits again — also
    when two phases of one run (``security ∥ story-loop``) wait on the same run, where
    one shared, cleared-on-wake event let the first waiter swallow the second one's
    notice and left it sleeping until its timeout.
    """

    def __init__(self) -> None:
        self._count: defaultdict[str, int] = defaultdict(int)
        self._seen: dict[tuple[str, asyncio.Task[object] | None], int] = {}
        self._changed: dict[str, asyncio.Event] = {}

    def notify(self, run_id: str) -> None:
        """Wake everything waiting on ``run_id`` (and every waiter's next wait)."""
        self._count[run_id] += 1
        event = self._changed.pop(run_id, None)
        if event is not None:
            event.set()

    def notify_all(self) -> None:
        """Wake every waiter (shutdown, cancellation)."""
        for run_id in list(self._count.keys() | self._changed.keys()):
            self.notify(run_id)

    async def wait(self, run_id: str, timeout: float) -> None:  # noqa: ASYNC109 - a bounded nap, by design
        """Return at once if ``run_id`` was notified since this task's last wait, else wait
        for a notification or ``timeout`` seconds."""
        task = asyncio.current_task()
        key = (run_id, task)
        if key not in self._seen and task is not None:
            task.add_done_callback(lambda _: self._seen.pop(key, None))
        if self._count[run_id] == self._seen.get(key, 0):
            event = self._changed.setdefault(run_id, asyncio.Event())
            await wait_event(event, timeout)
        self._seen[key] = self._count[run_id]

    def forget(self, run_id: str) -> None:
        """Drop the state of a finished run (waking whoever still waits on it)."""
        self.notify(run_id)
        self._count.pop(run_id, None)
        self._changed.pop(run_id, None)
        for key in [k for k in self._seen if k[0] == run_id]:
            del self._seen[key]
