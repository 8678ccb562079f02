"""Waker: a notice is never lost to a waiter that was busy when it arrived.

Two phases of one run (``security ∥ story-loop``) wait on the same run id. A notice that
arrives while one of them is re-reading the store must still wake that one's next wait,
even when the other waiter woke on it first. (With one shared event cleared on wake the
second waiter slept until its poll timeout.)
"""

from __future__ import annotations

import asyncio

from orchestrator.engine.signals import Waker

#: far longer than any test waits: a wait that returns did so because of a notice
LONG = 3600.0


async def test_a_notice_that_arrives_while_a_waiter_is_busy_wakes_its_next_wait() -> None:
    waker = Waker()
    busy = asyncio.Event()
    resume = asyncio.Event()

    async def first_phase() -> None:
        await waker.wait("run", LONG)

    async def second_phase() -> None:
        await waker.wait("run", 0.01)  # an earlier pass: nothing yet, a short nap
        busy.set()
        await resume.wait()  # re-reading the store while the notice arrives
        await waker.wait("run", LONG)

    a = asyncio.create_task(first_phase())
    b = asyncio.create_task(second_phase())
    await busy.wait()
    waker.notify("run")
    await asyncio.wait_for(a, timeout=30)  # the first waiter wakes (and re-arms)
    resume.set()
    await asyncio.wait_for(b, timeout=30)  # ... and the second still has its notice


async def _until_waiting(waker: Waker, run_id: str) -> None:
    """Let the waiter run until it waits on ``run_id`` (scheduling steps, no timed sleep)."""
    for _ in range(10_000):
        if run_id in waker._changed:
            return
        await asyncio.sleep(0)
    raise AssertionError("nobody waits")


async def test_each_notice_wakes_a_waiter_once() -> None:
    waker = Waker()
    woke = asyncio.Event()

    async def waiter() -> None:
        await waker.wait("run", LONG)
        woke.set()
        await waker.wait("run", LONG)

    t = asyncio.create_task(waiter())
    await _until_waiting(waker, "run")
    waker.notify("run")
    await asyncio.wait_for(woke.wait(), timeout=30)
    await _until_waiting(waker, "run")  # the notice was consumed: the next wait waits
    assert not t.done()
    waker.notify_all()
    await asyncio.wait_for(t, timeout=30)


async def test_forget_wakes_waiters_and_drops_the_run() -> None:
    waker = Waker()
    t = asyncio.create_task(waker.wait("run", LONG))
    await _until_waiting(waker, "run")
    waker.forget("run")
    await asyncio.wait_for(t, timeout=30)
    assert waker._seen == {} and "run" not in waker._changed
