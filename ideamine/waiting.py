"""Waits and stops that hold up when a cancellation goes missing.

Every long-lived loop here (the run owner, the engine's dispatch loop, watchers, the
host's registration and consume loops) naps with "until woken, at most N seconds". The
obvious spelling, ``asyncio.wait_for(event.wait(), N)``, is wrong on Python 3.11 (our
floor): when a cancellation arrives in the same loop turn as the wake-up, ``wait_for``
returns normally and the cancellation is lost. The loop goes round again and whoever
cancelled it — a shutdown — waits forever. ``asyncio.timeout`` re-raises the
cancellation, so every such nap goes through :func:`wait_event`; and a shutdown stops
its loops with :func:`cancel_and_wait`, which does not trust one cancellation to land.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

__all__ = ["cancel_and_wait", "wait_event"]

log = logging.getLogger(__name__)


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


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]], *, nag_seconds: float = 5.0) -> None:
    """Cancel ``tasks`` and return once every one of them has ended.

    A task can lose a cancellation (a library turning it into an error that the task's
    loop retries, or the ``wait_for`` race above) and go on running; a shutdown that
    awaited it once would then wait forever. Every ``nag_seconds`` the tasks still
    running are cancelled again and named in a warning. Their results and errors are
    collected and dropped: how a stopping task ended is not the stopper's concern.
    """
    tasks = list(tasks)
    pending = {t for t in tasks if not t.done()}
    for t in pending:
        t.cancel()
    while pending:
        _, pending = await asyncio.wait(pending, timeout=nag_seconds)
        for t in pending:
            log.warning("task %s is still running after its cancellation; cancelling it again", t.get_name())
            t.cancel()
    for t in tasks:
        if t.done() and not t.cancelled():
            t.exception()  # retrieved: no "exception was never retrieved" at collection
