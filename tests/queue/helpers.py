"""Test helpers for the queue suites: message factories and polling with a deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ideamine.ids import new_id
from ideamine.queue import TaskMessage

T = TypeVar("T")

#: Generous upper bound for anything a test waits for; tests never assert on time.
DEADLINE_S = 20.0


def make_messages(n: int, *, run_id: str | None = None) -> list[TaskMessage]:
    """``n`` distinct, valid task messages of one run."""
    run = run_id or new_id()
    return [
        TaskMessage(
            task_id=new_id(),
            run_id=run,
            phase="prd",
            agent="prd-writer",
            attempt=1,
            idempotency_key=f"key-{i}-{run}",
            deadline="2030-01-01T00:00:00+00:00",
            trace={"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
        )
        for i in range(n)
    ]


async def eventually(
    probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool], *, what: str, within: float = DEADLINE_S
) -> T:
    """Call ``probe`` until ``accept(result)``; fail with the last result after ``within`` seconds.

    Yields to the loop between probes (a zero sleep: we poll for an effect, we do not
    wait a fixed time for it).
    """
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if accept(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last value: {value!r}")
        await asyncio.sleep(0.01)
