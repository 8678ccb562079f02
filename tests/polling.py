"""Polling with a deadline: what every suite uses to wait for an effect instead of sleeping."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["eventually"]

T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T | None]],
    *,
    within: float = 10.0,
    what: str = "condition",
    every: float = 0.02,
) -> T:
    """Poll ``check`` until it returns something truthy and return that.

    A deadline, not a sleep-and-hope: the caller proceeds as soon as the state is there.
    Raises AssertionError (not ``pytest.fail``) after ``within`` seconds, so harnesses
    outside pytest — the chaos soak — can record it like any other failed check.
    """
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f}s waiting for {what}")
        await asyncio.sleep(every)
