"""Re-queuing the tasks of workers whose process is gone, without waiting for their leases.

Every agent host holds a liveness lock tied to its own database session
(:mod:`agent_host.liveness`); the server drops it the moment the process dies. A task
lease (15 s by default) is still what hands over the tasks of a *frozen* worker, but a
*dead* one is found here within :data:`SWEEP_SECONDS` plus ``after`` seconds:
:class:`LostWorkerSweeper` lists the workers of RUNNING tasks whose lock is free and,
once a worker's lock has stayed free for ``after`` seconds (a live host re-takes its lock
within a second or two after a database restart), gives each of its tasks its next
attempt — or ends it DEAD when that was its last (:func:`ideamine.handback.hand_back_lost`).

Acting on a wrong verdict costs work, never correctness: the old attempt's writes are
fenced by its attempt number. Several replicas may sweep at once; each hand-back is
fenced the same way, so a task moves on once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from ideamine.errors import Conflict, IdeaMineError, NotFound
from ideamine.handback import hand_back_lost
from ideamine.store.base import RunStore

__all__ = ["LostWorkerSweeper", "SWEEP_SECONDS"]

log = logging.getLogger(__name__)

#: how often the orchestrator looks for workers whose liveness lock is free
SWEEP_SECONDS = 1.0


class LostWorkerSweeper:
    """One :meth:`sweep` per :data:`SWEEP_SECONDS`; remembers since when each lock was seen free.

    Args:
        store: the run store (PostgreSQL; on SQLite no worker is ever lost).
        after: seconds a worker's lock must stay free before its tasks move.
        flush_outbox: publishes the new attempts at once.
        clock: monotonic seconds (tests pass their own).
    """

    def __init__(
        self,
        store: RunStore,
        *,
        after: float,
        flush_outbox: Callable[[], Awaitable[object]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.after = after
        self.flush_outbox = flush_outbox
        self.clock = clock
        self._free_since: dict[str, float] = {}

    async def sweep(self) -> int:
        """Look once; hand back the tasks of workers free for ``after`` seconds; returns how many.

        A failed look forgets every observation: after the database was unreachable a
        free lock is only believed once it stays free for ``after`` seconds more.

        Raises:
            StoreUnavailable: the database cannot be reached.
        """
        now = self.clock()
        try:
            unheld = await self.store.unheld_workers()
        except IdeaMineError:
            self._free_since.clear()
            raise
        self._free_since = {w: self._free_since.get(w, now) for w in unheld}
        lost = [w for w, since in self._free_since.items() if now - since >= self.after]
        moved = 0
        for worker in lost:
            tasks = await self.store.running_tasks_of(worker)
            log.warning(
                "worker %s is gone (its liveness lock has been free for %.1fs): handing back %d task(s)",
                worker,
                now - self._free_since[worker],
                len(tasks),
            )
            for task in tasks:
                try:
                    await hand_back_lost(
                        self.store, task, reason=f"worker {worker} is gone", label="worker_gone"
                    )
                except (Conflict, NotFound) as exc:  # moved on meanwhile (finished, or handed back)
                    log.info("task %s not handed back: %s", task.id, exc.message)
                    continue
                moved += 1
            del self._free_since[worker]  # seen free again later: a new wait
        if moved:
            await self.flush_outbox()
        return moved
