"""Outbox rows a store wrote itself, claimed at insert for the relay of its own process.

Every commit that writes outbox rows is followed, in the same process, by a relay pass
(``Reconciler.relay``) that publishes them. Claiming them afterwards with
:meth:`RunStore.claim_outbox` cost a statement per pass — under load the heaviest
statement PostgreSQL served (2 ms a call at 10,000 tasks: it walks every unpublished
index entry, the dead ones included). Instead, once a relay asks for it
(:meth:`RunStore.keep_written_outbox`), the store inserts its outbox rows already
claimed by that relay and, after the commit, keeps them here; the relay takes them
(:meth:`RunStore.take_written_outbox`), publishes them and marks them published.

Nothing about durability changes: the rows are in the database with the state change.
If the process dies before publishing, the claim lapses after ``claim_seconds`` and any
relay's claim pass publishes them. Rows kept here but never taken (a relay that stopped
asking) are dropped from memory past :data:`MAX_KEPT`; they too go out when their claim
lapses.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

from ideamine.store.base import OUTBOX_CLAIM_SECONDS
from ideamine.store.records import OutboxRecord

__all__ = ["MAX_KEPT", "WrittenOutbox", "WrittenOutboxMixin"]

#: rows kept for the relay at most; the oldest beyond it wait for their claim to lapse
MAX_KEPT = 100_000


class WrittenOutbox:
    """One store's written-and-committed outbox rows, waiting for its relay.

    Lifecycle: one per store instance; off until :meth:`enable`. The store calls
    :meth:`claim` when it inserts rows and :meth:`add` after the commit; the relay calls
    :meth:`take`. All of it runs on the event loop (no awaits inside), so a take never
    sees half a commit's rows.
    """

    def __init__(self) -> None:
        self.owner: str | None = None
        self.claim_seconds = 0.0
        self._rows: deque[OutboxRecord] = deque(maxlen=MAX_KEPT)

    def enable(self, owner: str, claim_seconds: float) -> None:
        """Claim rows written from now on for ``owner`` (a later call replaces the owner)."""
        self.owner = owner
        self.claim_seconds = claim_seconds

    def claim(self, now: datetime) -> tuple[str | None, datetime | None]:
        """``(claimed_by, claimed_until)`` for rows inserted at ``now``; ``(None, None)`` when off."""
        if self.owner is None:
            return None, None
        return self.owner, now + timedelta(seconds=self.claim_seconds)

    def add(self, rows: list[OutboxRecord]) -> None:
        """Keep the rows of a committed transaction (only those claimed for a relay)."""
        self._rows.extend(r for r in rows if r.claimed_by is not None)

    def take(self) -> list[OutboxRecord]:
        """Every kept row, oldest first; they are the caller's to publish now."""
        rows = sorted(self._rows, key=lambda r: r.id)
        self._rows.clear()
        return rows


class WrittenOutboxMixin:
    """The two :class:`~ideamine.store.base.RunStore` methods over a store's ``_written``."""

    _written: WrittenOutbox

    def keep_written_outbox(self, owner: str, *, claim_seconds: float = OUTBOX_CLAIM_SECONDS) -> None:
        """See :meth:`RunStore.keep_written_outbox`."""
        self._written.enable(owner, claim_seconds)

    def take_written_outbox(self) -> list[OutboxRecord]:
        """See :meth:`RunStore.take_written_outbox`."""
        return self._written.take()
