"""The ledger's public reads and appends, and the outbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from ideamine.errors import NotFound
from ideamine.store._shared import to_record, utcnow
from ideamine.store.base import OUTBOX_CLAIM_SECONDS
from ideamine.store.ledger import verify_chain
from ideamine.store.postgres.db import Conn, StoreBase
from ideamine.store.postgres.events import append_events
from ideamine.store.postgres.runs import require_id
from ideamine.store.records import Event, LedgerRecord, LedgerVerification, OutboxRecord

__all__ = ["JournalMixin"]

#: claim the oldest claimable rows: unpublished and unclaimed or expired ($3 = now). The
#: inner SELECT locks the rows it picks and skips rows another claimer has locked, so
#: concurrent relays take disjoint rows without waiting; the partial index
#: ``outbox_claimable`` (migration 0002) walks unpublished rows in id order.
_CLAIM = """
UPDATE outbox SET claimed_by = $1, claimed_until = $2
WHERE id IN (
    SELECT id FROM outbox
    WHERE published_at IS NULL AND ($4::text IS NULL OR topic = $4)
      AND (claimed_until IS NULL OR claimed_until <= $3)
    ORDER BY id LIMIT $5
    FOR UPDATE SKIP LOCKED
)
RETURNING *
"""

#: a published row keeps its first mark (a row claimed twice may be published twice)
_MARK_PUBLISHED = "UPDATE outbox SET published_at = $2 WHERE id = ANY($1::bigint[]) AND published_at IS NULL"


class JournalMixin(StoreBase):
    """Ledger appends/reads/verification and outbox fetch/mark.

    Outbox claims and published marks only steer *who* publishes: if the server crashes
    before one reaches disk, a row is claimable or unpublished again and goes out once
    more (a duplicate, which the idempotency key absorbs); the rows themselves are
    written by the durable state-change transactions. So each is one statement on
    :meth:`Database.relaxed` — one round trip, no WAL-flush wait.
    """

    async def append_events(self, run_id: str, events: Sequence[Event]) -> list[LedgerRecord]:
        """Append events on their own (most appends ride along with a state change)."""
        require_id(run_id, "run")
        now = utcnow()
        return await self._db.transaction(lambda conn: append_events(conn, run_id, events, now))

    async def list_events(self, run_id: str, *, after_seq: int = 0, limit: int = 1000) -> list[LedgerRecord]:
        """Ledger rows with ``seq > after_seq`` in order."""
        require_id(run_id, "run")
        rows = await self._db.fetch(
            "SELECT * FROM ledger WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            run_id,
            after_seq,
            limit,
        )
        return [to_record(LedgerRecord, r) for r in rows]

    async def verify_ledger(self, run_id: str) -> LedgerVerification:
        """Recompute the chain from one snapshot; also check the head matches the last row.

        The head check catches what the chain alone cannot: rows missing at the *end*
        (a chain cut short is still a valid chain).
        """
        require_id(run_id, "run")

        async def tx(conn: Conn) -> LedgerVerification:
            head = await conn.fetchrow(
                "SELECT last_seq, last_hash FROM ledger_heads WHERE run_id = $1", run_id
            )
            if head is None:
                raise NotFound(f"run {run_id} not found", run_id=run_id)
            rows = await conn.fetch("SELECT * FROM ledger WHERE run_id = $1 ORDER BY seq", run_id)
            result = verify_chain([to_record(LedgerRecord, r) for r in rows])
            if result.ok and (
                head["last_seq"] != len(rows) or (rows and head["last_hash"] != rows[-1]["hash"])
            ):
                return LedgerVerification(
                    ok=False,
                    rows=len(rows),
                    first_bad_seq=len(rows) + 1,
                    reason=f"the chain head is at seq {head['last_seq']} but {len(rows)} rows are stored",
                )
            return result

        # one transaction: the head and the rows come from the same snapshot
        return await self._db.transaction(tx)

    async def fetch_outbox(self, *, topic: str | None = None, limit: int = 500) -> list[OutboxRecord]:
        """Unpublished outbox rows, oldest first, claimed or not."""
        rows = await self._db.fetch(
            """SELECT * FROM outbox WHERE published_at IS NULL AND ($1::text IS NULL OR topic = $1)
               ORDER BY id LIMIT $2""",
            topic,
            limit,
        )
        return [to_record(OutboxRecord, r) for r in rows]

    async def claim_outbox(
        self,
        owner: str,
        *,
        topic: str | None = None,
        limit: int = 500,
        claim_seconds: float = OUTBOX_CLAIM_SECONDS,
        now: datetime | None = None,
    ) -> list[OutboxRecord]:
        """Claim unclaimed or expired unpublished rows in one statement (see ``_CLAIM``)."""
        at = now or utcnow()
        until = at + timedelta(seconds=claim_seconds)
        rows = await self._db.relaxed(lambda conn: conn.fetch(_CLAIM, owner, until, at, topic, limit))
        return sorted((to_record(OutboxRecord, r) for r in rows), key=lambda r: r.id)

    async def mark_published(self, outbox_ids: Sequence[int]) -> None:
        """Flag rows published (kept for audit; neither fetched nor claimed again)."""
        if not outbox_ids:
            return
        now = utcnow()
        await self._db.relaxed(lambda conn: conn.execute(_MARK_PUBLISHED, list(outbox_ids), now))

    async def release_outbox(self, outbox_ids: Sequence[int], *, owner: str) -> int:
        """Clear ``owner``'s claims on the unpublished rows among ``outbox_ids``."""
        if not outbox_ids:
            return 0
        status = await self._db.relaxed(
            lambda conn: conn.execute(
                """UPDATE outbox SET claimed_by = NULL, claimed_until = NULL
                   WHERE id = ANY($1::bigint[]) AND claimed_by = $2 AND published_at IS NULL""",
                list(outbox_ids),
                owner,
            )
        )
        return int(str(status).rsplit(" ", 1)[-1])
