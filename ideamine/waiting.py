"""Bounded waits on an :class:`asyncio.Event` that never swallow a cancellation.

Every long-lived loop here (the run owner, the engine's dispatch loop, watchers, the
host's registration and consume loops) naps with "until woken, at most N seconds". The
obvious spelling, ``asyncio.wait_for(event.wait(), N)``, is wrong on Python 3.11 (our
floor): when a cancellation arrives in the same loop turn as the wake-up, ``wait_for``
returns normally and the cancellation is lost. The loop goes round again and whoever
cancelled it — a shutdown — waits forever. ``asyncio.timeout`` re-raises the
cancellation, so every such nap goes through :func:`wait_event`.
"""

from __future__ import annotations

import asyncio

__all__ = ["wait_event"]


async def wait_event(event: asyncio.Event, timeout: float | None) -> bool:  # noqa: ASYNC109 - a bounded nap
    """Wait until ``event`` is set or ``timeout`` seconds pass (``None``: no limit).

    Returns whether the event is set (a wake-up rather than a timeout). A cancellation
    of the caller always propagates, even one that meets the wake-up.
    """
    if event.is_set():
        return True
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return event.is_set()
    return True
