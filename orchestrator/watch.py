"""WatchRun: a run's ledger as a live stream, from any replica.

The ledger in PostgreSQL is the one source every replica shares, so a watcher simply
follows it: read the rows after the last sequence number sent, then wait a short
interval (or until this replica's owner pokes it) and read again. That makes the
stream live across replicas — the replica serving the watcher need not own the run —
and resumable: a client that reconnects with ``after_seq`` = the last ``seq`` it saw
gets exactly the rest, with no gap and no duplicate (sequence numbers are gap-free).

The stream ends after the event that made the run terminal has been sent. The order of
reads guarantees it: the status is read *before* the ledger, and a terminal transition
writes its event in the same transaction as the status, so once a terminal status was
seen the following ledger read contains that event.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from ideamine.enums import TERMINAL_RUN_STATUSES
from ideamine.store.base import RunStore
from ideamine.store.records import LedgerRecord
from ideamine.waiting import wait_event

__all__ = ["follow_ledger", "WatchHub"]

#: rows read per ledger query
_BATCH = 500


class WatchHub:
    """Per-run wake-ups for watchers in this process (a poke shortens the poll wait)."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}

    def poke(self, run_id: str) -> None:
        """Wake the watchers of ``run_id`` now."""
        event = self._events.get(run_id)
        if event is not None:
            event.set()

    async def wait(self, run_id: str, timeout: float) -> None:  # noqa: ASYNC109 - a bounded nap by design
        """Sleep up to ``timeout`` seconds, less when the run is poked."""
        event = self._events.setdefault(run_id, asyncio.Event())
        await wait_event(event, timeout)
        event.clear()


async def follow_ledger(
    store: RunStore,
    run_id: str,
    *,
    after_seq: int = 0,
    poll_seconds: float = 0.25,
    hub: WatchHub | None = None,
) -> AsyncIterator[LedgerRecord]:
    """Yield the run's ledger rows after ``after_seq``, live, until the run has ended.

    Args:
        store: the store (any replica's view is complete).
        run_id: the run, already checked to belong to the caller.
        after_seq: the last sequence number the caller has; 0 for everything.
        poll_seconds: the longest wait between two ledger reads.
        hub: this process's wake-ups, to cut the wait when something happened here.
    """
    seq = after_seq
    hub = hub or WatchHub()
    while True:
        run = await store.get_run(run_id)
        while True:
            rows = await store.list_events(run_id, after_seq=seq, limit=_BATCH)
            for row in rows:
                seq = row.seq
                yield row
            if len(rows) < _BATCH:
                break
        if run.status in TERMINAL_RUN_STATUSES:
            return
        await hub.wait(run_id, poll_seconds)
