"""The ledger's public reads and appends, and the outbox."""

from __future__ import annotations

from collections.abc import Sequence

from ideamine.errors import NotFound
from ideamine.store._shared import to_record, utcnow
from ideamine.store.ledger import verify_chain
from ideamine.store.postgres.db import Conn, StoreBase
from ideamine.store.postgres.events import append_events
from ideamine.store.postgres.runs import require_id
from ideamine.store.records import Event, LedgerRecord, LedgerVerification, OutboxRecord

__all__ = ["JournalMixin"]


class JournalMixin(StoreBase):
    """Ledger appends/reads/verification and outbox fetch/mark."""

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
        """Unpublished outbox rows, oldest first."""
        rows = await self._db.fetch(
            """SELECT * FROM outbox WHERE published_at IS NULL AND ($1::text IS NULL OR topic = $1)
               ORDER BY id LIMIT $2""",
            topic,
            limit,
        )
        return [to_record(OutboxRecord, r) for r in rows]

    async def mark_published(self, outbox_ids: Sequence[int]) -> None:
        """Flag rows published (kept for audit; fetch_outbox skips them)."""
        if not outbox_ids:
            return
        now = utcnow()
        await self._db.transaction(
            lambda conn: conn.execute(
                "UPDATE outbox SET published_at = $2 WHERE id = ANY($1::bigint[]) AND published_at IS NULL",
                list(outbox_ids),
                now,
            )
        )
