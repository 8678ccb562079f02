"""Ledger appends and outbox inserts, always inside the caller's transaction.

These are the two side effects that ride along with almost every state change, so they
are written once here. The ledger append locks the run's ``ledger_heads`` row with an
``UPDATE`` (never ``MAX(seq)+1``): concurrent writers to one run queue on that row lock,
each gets the next numbers and the current chain head, and the chain cannot fork. Row
locks are released at commit, so the append should be the last lock a transaction takes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ideamine.errors import NotFound
from ideamine.store.ledger import row_hash
from ideamine.store.postgres.db import Conn
from ideamine.store.records import JSON, Event, LedgerRecord

__all__ = ["append_events", "chain", "insert_outbox", "OutboxRow"]

#: (topic, task_id, payload) of one outbox row
OutboxRow = tuple[str, str | None, JSON]

_CLAIM_SEQ = """
UPDATE ledger_heads SET last_seq = last_seq + $2 WHERE run_id = $1
RETURNING last_seq - $2 AS start, last_hash
"""

_INSERT_ROWS = """
WITH rows AS (
    INSERT INTO ledger (run_id, seq, type, phase, task_id, payload, prev_hash, hash, created_at)
    SELECT $1, u.seq, u.type, u.phase, u.task_id, u.payload, u.prev_hash, u.hash, $2
    FROM unnest($3::bigint[], $4::text[], $5::text[], $6::uuid[], $7::jsonb[], $8::text[], $9::text[])
        AS u(seq, type, phase, task_id, payload, prev_hash, hash)
)
UPDATE ledger_heads SET last_hash = $10 WHERE run_id = $1
"""

_INSERT_OUTBOX = """
INSERT INTO outbox (topic, task_id, payload, created_at)
SELECT u.topic, u.task_id, u.payload, $1
FROM unnest($2::text[], $3::uuid[], $4::jsonb[]) AS u(topic, task_id, payload)
"""


async def append_events(
    conn: Conn, run_id: str, events: Sequence[Event], now: datetime
) -> list[LedgerRecord]:
    """Append ``events`` to the run's chain (two statements, whatever their number).

    Raises:
        NotFound: the run has no ledger head (it does not exist).
    """
    if not events:
        return []
    head = await conn.fetchrow(_CLAIM_SEQ, run_id, len(events))
    if head is None:
        raise NotFound(f"run {run_id} not found", run_id=run_id)
    records = chain(run_id, head["start"], head["last_hash"], events, now)
    await conn.execute(
        _INSERT_ROWS,
        run_id,
        now,
        [r.seq for r in records],
        [r.type for r in records],
        [r.phase for r in records],
        [r.task_id for r in records],
        [r.payload for r in records],
        [r.prev_hash for r in records],
        [r.hash for r in records],
        records[-1].hash,
    )
    return records


def chain(run_id: str, start: int, prev: str, events: Sequence[Event], now: datetime) -> list[LedgerRecord]:
    """Ledger rows for ``events`` numbered after ``start`` and chained from hash ``prev``."""
    records: list[LedgerRecord] = []
    for seq, ev in enumerate(events, start=start + 1):
        content = {
            "run_id": run_id,
            "seq": seq,
            "type": ev.type,
            "phase": ev.phase,
            "task_id": ev.task_id,
            "payload": ev.payload,
            "created_at": now,
        }
        digest = row_hash(prev, content)
        records.append(LedgerRecord(prev_hash=prev, hash=digest, **content))  # type: ignore[arg-type]
        prev = digest
    return records


async def insert_outbox(conn: Conn, rows: Sequence[OutboxRow], now: datetime) -> None:
    """Insert outbox rows in one statement (none: no round trip)."""
    if rows:
        await conn.execute(
            _INSERT_OUTBOX, now, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]
        )
