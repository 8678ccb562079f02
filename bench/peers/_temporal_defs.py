"""Temporal workflow and activity definitions of the Temporal peer benchmark.

They live in an importable module (not ``__main__``) because the workflow sandbox
re-imports workflow modules; this module is imported only inside the Temporal venv.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from temporalio import activity, workflow  # type: ignore[import-not-found]

TIMEOUT = timedelta(minutes=10)
#: most activities one FanOut workflow keeps scheduled at once (the server's default cap
#: on pending activities per workflow is 2,000)
IN_FLIGHT = 1000


@activity.defn(name="noop")  # type: ignore[untyped-decorator]
async def noop(sent_at: float) -> tuple[float, float]:
    """No work: when the task was submitted (client clock, or 0) and when it started here."""
    info = activity.info()
    submitted = sent_at or info.current_attempt_scheduled_time.timestamp()
    return submitted, time.time()


@workflow.defn(name="FanOut", sandboxed=False)  # type: ignore[untyped-decorator]
class FanOut:
    """One workflow running ``n`` no-op activities, at most :data:`IN_FLIGHT` scheduled at once."""

    @workflow.run  # type: ignore[untyped-decorator]
    async def run(self, n: int) -> list[tuple[float, float]]:
        """Fan out, fan in."""
        sem = asyncio.Semaphore(IN_FLIGHT)

        async def one() -> tuple[float, float]:
            async with sem:
                result: tuple[float, float] = await workflow.execute_activity(
                    noop, 0.0, start_to_close_timeout=TIMEOUT
                )
                return result

        return list(await asyncio.gather(*(one() for _ in range(n))))


@workflow.defn(name="One", sandboxed=False)  # type: ignore[untyped-decorator]
class One:
    """One workflow running one no-op activity."""

    @workflow.run  # type: ignore[untyped-decorator]
    async def run(self, sent_at: float) -> tuple[float, float]:
        """The activity's result."""
        result: tuple[float, float] = await workflow.execute_activity(
            noop, sent_at, start_to_close_timeout=TIMEOUT
        )
        return result
