"""wait_event: a bounded nap that reports wake-ups and never loses a cancellation."""

from __future__ import annotations

import asyncio

import pytest

from ideamine.waiting import wait_event


async def test_a_set_event_wakes_the_waiter_and_says_so() -> None:
    event = asyncio.Event()
    waiter = asyncio.create_task(wait_event(event, 10))
    await asyncio.sleep(0)
    event.set()
    assert await waiter is True
    assert await wait_event(event, 0) is True  # already set: no wait at all


async def test_the_timeout_ends_the_wait_and_says_so() -> None:
    assert await wait_event(asyncio.Event(), 0.01) is False


async def test_a_cancellation_that_meets_the_wake_up_still_ends_the_loop() -> None:
    event = asyncio.Event()

    async def loop() -> None:  # the shape of every service loop that naps between passes
        while True:
            await wait_event(event, 10)
            event.clear()

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)  # waiting now
    event.set()
    await asyncio.sleep(0)  # the wake-up has arrived; the loop has not resumed yet
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(2):  # asyncio.wait_for here would go round for another 10 s
            await task
