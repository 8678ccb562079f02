"""A wait cancelled just as its wake-up arrives stays cancelled (shutdown must not hang).

On Python 3.11 ``asyncio.wait_for`` returns the inner result instead of raising when the
cancellation and the completion meet; a loop around it then never ends.
"""

from __future__ import annotations

import asyncio

import pytest

from orchestrator.engine.signals import Waker


async def test_a_waiting_loop_cancelled_as_it_is_notified_ends() -> None:
    waker = Waker()

    async def steering() -> None:  # the shape of the owner's and the dispatcher's loops
        while True:
            await waker.wait("run", 10)

    loop = asyncio.create_task(steering())
    await asyncio.sleep(0)  # now waiting for a notice
    waker.notify("run")
    await asyncio.sleep(0)  # the wake-up has arrived; the loop has not resumed yet
    loop.cancel()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(2):  # swallowed, the loop would wait its 10 s again
            await loop
