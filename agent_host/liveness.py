"""Keeping the host's liveness lock while the process lives.

The store ties a lock to this process's own database session
(:meth:`~ideamine.store.base.RunStore.hold_worker_liveness`); when the process dies the
session ends and the lock with it, and the orchestrator re-queues the host's tasks at
once instead of when their leases run out. This loop re-checks the session every
:data:`PROBE_SECONDS` and re-takes the lock after a database restart, well within the
time the orchestrator waits before it believes a free lock (its
``--lost-worker-seconds``).
"""

from __future__ import annotations

import asyncio
import logging

from ideamine.errors import IdeaMineError
from ideamine.store.base import RunStore

__all__ = ["LivenessKeeper", "PROBE_SECONDS"]

log = logging.getLogger(__name__)

#: how often the session holding the lock is checked (and the lock re-taken if lost)
PROBE_SECONDS = 1.0


class LivenessKeeper:
    """Holds ``worker``'s liveness lock: ``await keeper.hold()`` once, then ``run()`` in a task.

    Lifecycle: cancel the ``run()`` task to stop probing; the lock itself goes when the
    store closes (or the process ends).
    """

    def __init__(self, store: RunStore, worker: str, *, every: float = PROBE_SECONDS) -> None:
        self.store = store
        self.worker = worker
        self.every = every
        #: whether the last probe found the lock held by this process (None: not probed yet)
        self.held: bool | None = None

    async def hold(self) -> bool:
        """Take (or re-check) the lock once; logs changes, never raises for the store."""
        try:
            held = await self.store.hold_worker_liveness(self.worker)
        except IdeaMineError as exc:
            if self.held is not False:
                log.warning("liveness lock of %s not held: %s", self.worker, exc.message)
            self.held = False
            return False
        if held != self.held:
            if held:
                log.info("holding the liveness lock of %s", self.worker)
            else:
                log.warning(
                    "liveness lock of %s is held by another session (an earlier one of it?)", self.worker
                )
        self.held = held
        return held

    async def run(self) -> None:
        """Probe every ``every`` seconds until cancelled."""
        while True:
            await asyncio.sleep(self.every)
            await self.hold()
