"""A running task's lease: renewed in the store (fenced by attempt and worker) and the queue.

Either renewal can report the lease gone — the store when another attempt owns the row
or it ended, the queue when the entry was reclaimed by another consumer, dead-lettered
or lost with Redis. The worker then stops the agent instead of finishing work whose
result would be fenced (or paid for twice).
"""

from __future__ import annotations

import asyncio

from ideamine.errors import Conflict
from ideamine.queue.base import TaskQueue
from ideamine.queue.message import Delivery, TaskMessage
from ideamine.store.base import RunStore
from ideamine.store.records import TaskRecord

__all__ = ["Lease", "LeaseLost"]


class LeaseLost(Exception):
    """The task's lease went to someone else while its agent ran; its result would be fenced.

    Attributes:
        fenced: the store refused the renewal (another attempt owns the row, or it
            ended), as opposed to only the queue entry being gone.
    """

    def __init__(self, reason: str, *, fenced: bool) -> None:
        super().__init__(reason)
        self.fenced = fenced


class Lease:
    """One running attempt's lease: renewal in the store and the queue, and its loss.

    ``renew`` is also the agent's ``context.heartbeat``: once the lease is lost it raises
    :class:`LeaseLost` (and sets ``cancelled``) so a cooperative agent stops at once.

    Args:
        worker: the consumer name holding the task (the store fences renewals by it).
        seconds: how far each renewal pushes the store lease.
    """

    def __init__(
        self,
        store: RunStore,
        queue: TaskQueue,
        task: TaskRecord,
        delivery: Delivery[TaskMessage],
        *,
        worker: str,
        seconds: float,
    ) -> None:
        self.store, self.queue, self.task, self.delivery = store, queue, task, delivery
        self.worker, self.seconds = worker, seconds
        self.lost: LeaseLost | None = None
        self.cancelled = asyncio.Event()

    def _lose(self, why: LeaseLost) -> LeaseLost:
        if self.lost is None:
            self.lost = why
            self.cancelled.set()
        return self.lost

    async def renew(self) -> None:
        """Extend the store lease and the queue entry; LeaseLost when either is gone."""
        if self.lost is not None:
            raise self.lost
        t = self.task
        try:
            await self.store.heartbeat_task(
                t.id, attempt=t.attempt, worker=self.worker, lease_seconds=self.seconds
            )
        except Conflict as exc:  # StaleAttempt too
            raise self._lose(LeaseLost(f"store refused the renewal: {exc.message}", fenced=True)) from exc
        if not await self.queue.extend(self.delivery):
            raise self._lose(LeaseLost("the queue entry is no longer this worker's", fenced=False))
