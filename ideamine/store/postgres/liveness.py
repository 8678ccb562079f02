"""Worker liveness: a session lock that ends with the process holding it.

A crashed agent host's tasks used to wait out their lease (15 s by default) before
anyone took them over, since nothing else told a dead worker from a slow one. Here each
worker holds a PostgreSQL session advisory lock named after it, on a connection of its
own: the server drops the lock the moment that session ends — the process was killed,
or its link to the database broke. So "RUNNING tasks whose worker's lock is free" names
the tasks of workers that are gone, seconds after they went, without a clock.

A frozen worker (stopped, paging) keeps its session and its lock: only its lease gives
its tasks away. A free lock is a strong hint, not a fence: the orchestrator acts on it
only when it stays free for a while (a live worker re-takes it within a second after a
database restart), and a worker wrongly declared gone only loses its attempt — every
write of the old attempt is fenced.
"""

from __future__ import annotations

import logging

from ideamine.store._shared import to_record
from ideamine.store.postgres.db import Conn, StoreBase
from ideamine.store.records import TaskRecord

__all__ = ["LivenessMixin"]

log = logging.getLogger(__name__)

#: a probe of the liveness session taking longer counts as a lost session (a new one is opened)
PROBE_TIMEOUT_SECONDS = 5.0

#: first key of every worker liveness lock (the second is ``hashtext(worker)``): "IdMn"
LOCK_SPACE = 0x49644D6E

#: workers of RUNNING tasks whose liveness lock nobody holds (a transaction-scoped try
#: succeeds only on a free lock, and is released at once with the transaction)
_UNHELD = """
SELECT w FROM (SELECT DISTINCT worker AS w FROM tasks WHERE status = 'RUNNING' AND worker IS NOT NULL) r
WHERE pg_try_advisory_xact_lock($1, hashtext(w))
ORDER BY w
"""


class LivenessMixin(StoreBase):
    """Holding a worker's liveness lock, and finding the workers whose lock is free."""

    _liveness: dict[str, Conn]

    async def hold_worker_liveness(self, worker: str) -> bool:
        """Take ``worker``'s liveness lock, or check the session holding it is still there.

        Call it periodically: when the session was lost (a database restart) the lock
        is re-taken on a new one. Returns whether the lock is held now (False: another
        session holds it — the previous one of this worker, not yet gone).

        Raises:
            StoreUnavailable: the database cannot be reached (call again later).
        """
        conn = self._liveness.get(worker)
        if conn is not None:
            try:
                await conn.fetchval("SELECT 1", timeout=PROBE_TIMEOUT_SECONDS)
                return True
            except Exception as exc:  # the session (and with it the lock) is gone
                log.warning("liveness session of %s lost (%s); taking the lock again", worker, exc)
                self._liveness.pop(worker, None)
                conn.terminate()
        conn = await self._db.connect_session("ideamine-liveness")
        try:
            held = bool(
                await conn.fetchval("SELECT pg_try_advisory_lock($1, hashtext($2))", LOCK_SPACE, worker)
            )
        except Exception as exc:
            conn.terminate()
            raise self._db.translate(exc) from exc
        if not held:
            await conn.close()
            return False
        self._liveness[worker] = conn
        return True

    async def release_worker_liveness(self, worker: str) -> None:
        """Give the lock up (an orderly stop); a no-op when not held."""
        conn = self._liveness.pop(worker, None)
        if conn is not None:
            try:
                await conn.close()  # ending the session releases the lock
            except Exception:  # already gone: so is the lock
                conn.terminate()

    async def unheld_workers(self) -> list[str]:
        """Workers of RUNNING tasks whose liveness lock is free: gone, or never took it."""
        rows = await self._db.transaction(lambda conn: conn.fetch(_UNHELD, LOCK_SPACE))
        return [r["w"] for r in rows]

    async def running_tasks_of(self, worker: str) -> list[TaskRecord]:
        """The RUNNING tasks ``worker`` holds, oldest first."""
        rows = await self._db.fetch(
            "SELECT * FROM tasks WHERE status = 'RUNNING' AND worker = $1 ORDER BY created_at, id", worker
        )
        return [to_record(TaskRecord, r) for r in rows]

    async def _release_all_liveness(self) -> None:
        for worker in list(self._liveness):
            await self.release_worker_liveness(worker)
