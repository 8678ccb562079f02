"""``Grouped``: calls arriving while a batch runs share the next one; each gets its own answer."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from ideamine.batching import Grouped
from ideamine.errors import Conflict, StoreUnavailable


class Doubler:
    """A batch function that records its batches and refuses odd numbers (all-or-nothing)."""

    def __init__(self, *, down: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.cancelled: list[list[int]] = []
        self.release = asyncio.Event()
        self.release.set()
        self.down = down

    async def __call__(self, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled.append(list(items))
            raise
        if self.down:
            raise StoreUnavailable("database unavailable")
        if any(i % 2 for i in items):
            raise Conflict(f"odd in {list(items)}")
        return [i * 2 for i in items]


async def _first_batch_held() -> tuple[Doubler, Grouped[int, int], asyncio.Task[int]]:
    """A grouped doubler whose first call (of 2) is in its batch, held until ``release``."""
    fn = Doubler()
    fn.release.clear()
    grouped = Grouped(fn)
    first = asyncio.create_task(grouped(2))
    await asyncio.sleep(0)
    return fn, grouped, first


async def test_a_lone_call_runs_at_once_and_later_calls_share_the_next_batch() -> None:
    fn, grouped, first = await _first_batch_held()
    rest = [asyncio.create_task(grouped(i)) for i in (4, 6, 8)]
    await asyncio.sleep(0)
    fn.release.set()
    assert await first == 4 and await asyncio.gather(*rest) == [8, 12, 16]
    assert fn.batches == [[2], [4, 6, 8]]


async def test_a_refused_batch_is_retried_member_by_member() -> None:
    fn = Doubler()
    grouped = Grouped(fn)
    results = await asyncio.gather(*(grouped(i) for i in (2, 3, 4)), return_exceptions=True)
    assert results[0] == 4 and results[2] == 8
    assert isinstance(results[1], Conflict)
    assert fn.batches == [[2, 3, 4], [2], [3], [4]]


async def test_a_lost_database_fails_every_member_without_retrying() -> None:
    fn = Doubler(down=True)
    grouped = Grouped(fn)
    results = await asyncio.gather(*(grouped(i) for i in (2, 4)), return_exceptions=True)
    assert all(isinstance(r, StoreUnavailable) for r in results)
    assert fn.batches == [[2, 4]]


async def test_a_caller_cancelled_before_its_batch_is_left_out() -> None:
    fn, grouped, first = await _first_batch_held()
    gone, kept = asyncio.create_task(grouped(4)), asyncio.create_task(grouped(6))
    await asyncio.sleep(0)
    gone.cancel()
    fn.release.set()
    assert await first == 4 and await kept == 12
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert fn.batches == [[2], [6]]


async def test_a_batch_whose_callers_all_left_is_stopped_before_the_last_one_returns() -> None:
    fn, grouped, first = await _first_batch_held()
    second = asyncio.create_task(grouped(4))  # waits for the next batch
    await asyncio.sleep(0)
    second.cancel()
    first.cancel()
    for gone in (second, first):
        with pytest.raises(asyncio.CancelledError):
            await gone
    assert fn.cancelled == [[2]]  # already stopped when the last caller's cancellation completed
    fn.release.set()
    assert await grouped(6) == 12  # the next call gets a fresh runner
    assert fn.batches == [[2], [6]]


async def test_a_commit_batch_whose_callers_all_left_is_finished_in_the_background() -> None:
    fn = Doubler()
    fn.release.clear()
    grouped = Grouped(fn, finish_orphans=True)
    first = asyncio.create_task(grouped(2))
    for _ in range(2):  # the caller queues up, then the runner starts its batch
        await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first  # the caller leaves at once
    fn.release.set()
    assert await grouped(4) == 8  # served after the orphaned batch, which ran to its end
    assert fn.batches == [[2], [4]] and fn.cancelled == []


async def test_a_batch_keeps_running_for_the_callers_still_waiting() -> None:
    fn = Doubler()
    fn.release.clear()
    grouped = Grouped(fn)
    gone, kept = asyncio.create_task(grouped(2)), asyncio.create_task(grouped(4))
    for _ in range(2):  # the callers queue up, then the runner takes them as one batch
        await asyncio.sleep(0)
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    fn.release.set()
    assert await kept == 8
    assert fn.batches == [[2, 4]] and fn.cancelled == []


async def test_batches_are_bounded() -> None:
    fn = Doubler()
    grouped = Grouped(fn, max_batch=3)
    assert await asyncio.gather(*(grouped(2 * i) for i in range(7))) == [4 * i for i in range(7)]
    assert [len(b) for b in fn.batches] == [3, 3, 1]


def test_a_loop_closed_mid_batch_does_not_strand_the_next_loops_calls() -> None:
    fn = Doubler()
    grouped = Grouped(fn)

    async def abandoned() -> None:
        fn.release.clear()
        asyncio.get_running_loop().create_task(grouped(2))  # its batch never ends on this loop
        await asyncio.sleep(0.01)

    loop = asyncio.new_event_loop()  # closed without cancelling its tasks, as an embedding host might
    loop.run_until_complete(abandoned())
    for task in asyncio.all_tasks(loop):  # left pending on purpose: no "destroyed but pending" noise
        task._log_destroy_pending = False  # type: ignore[attr-defined]
    loop.close()
    fn.release = asyncio.Event()  # a fresh event for the next loop
    fn.release.set()

    async def later() -> int:
        return await asyncio.wait_for(grouped(4), 5)

    assert asyncio.run(later()) == 8
