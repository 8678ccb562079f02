"""wait_event: a bounded nap that reports wake-ups and never loses a cancellation."""

from __future__ import annotations

import asyncio

import pytest

from ideamine.waiting import cancel_and_wait, wait_event


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


async def test_cancel_and_wait_recancels_a_task_that_lost_its_cancellation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    lost = 0

    async def stubborn() -> None:  # a loop whose first cancellation is turned into an error it retries
        nonlocal lost
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                if lost:
                    raise
                lost += 1

    async def failing() -> None:
        raise RuntimeError("ended badly before the stop")

    tasks = [asyncio.create_task(stubborn(), name="stubborn"), asyncio.create_task(failing())]
    await asyncio.sleep(0)
    async with asyncio.timeout(5):  # one cancellation and a plain await would wait forever
        await cancel_and_wait(tasks, nag_seconds=0.05)
    assert all(t.done() for t in tasks) and tasks[0].cancelled() and lost == 1
    assert "task stubborn is still running after its cancellation" in caplog.text
