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
from typing import Any

from ideamine.errors import NotFound
from ideamine.store.ledger import row_hash
from ideamine.store.postgres.db import Conn, insert_outbox_rows
from ideamine.store.records import JSON, Event, LedgerRecord

__all__ = ["append_events", "chain", "chain_runs", "insert_chains", "insert_outbox", "OutboxRow"]

#: (topic, task_id, payload) of one outbox row
OutboxRow = tuple[str, str | None, JSON]

_CLAIM_SEQ = """
UPDATE ledger_heads SET last_seq = last_seq + $2 WHERE run_id = $1
RETURNING last_seq - $2 AS start, last_hash
"""

#: ledger rows of several runs and each run's new chain head, in one statement
_INSERT_CHAINS = """
WITH rows AS (
    INSERT INTO ledger (run_id, seq, type, phase, task_id, payload, prev_hash, hash, created_at)
    SELECT u.*, $1 FROM unnest($2::uuid[], $3::bigint[], $4::text[], $5::text[], $6::uuid[], $7::jsonb[],
                               $8::text[], $9::text[])
        AS u(run_id, seq, type, phase, task_id, payload, prev_hash, hash)
)
UPDATE ledger_heads SET last_hash = v.hash
FROM unnest($10::uuid[], $11::text[]) AS v(run_id, hash)
WHERE ledger_heads.run_id = ANY($10::uuid[]) AND ledger_heads.run_id = v.run_id
"""

#: $5/$6 claim the rows for this process's relay (NULL: any relay claims them)
_INSERT_OUTBOX = """
INSERT INTO outbox (topic, task_id, payload, created_at, claimed_by, claimed_until)
SELECT u.topic, u.task_id, u.payload, $1, $5, $6
FROM unnest($2::text[], $3::uuid[], $4::jsonb[]) AS u(topic, task_id, payload)
RETURNING id, topic, task_id
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
    await insert_chains(conn, records, {run_id: records[-1].hash}, now)
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


def chain_runs(
    members: Sequence[tuple[str, int, str, Sequence[Event]]], now: datetime
) -> tuple[list[LedgerRecord], dict[str, str]]:
    """Ledger rows for several writers' events, chained per run in the given order.

    Each member is ``(run_id, start, prev_hash, events)`` as its run's head was claimed
    for the whole batch: a run's first member chains from the claimed head, the next one
    from the row before it. Returns the rows and each run's new head hash.
    """
    records: list[LedgerRecord] = []
    heads: dict[str, tuple[int, str]] = {}  # run -> (last seq, last hash) as the chain grows
    for run_id, start, prev, events in members:
        if events:
            seq, last = heads.get(run_id, (start, prev))
            rows = chain(run_id, seq, last, events, now)
            records.extend(rows)
            heads[run_id] = (rows[-1].seq, rows[-1].hash)
    return records, {run_id: h for run_id, (_, h) in heads.items()}


def chain_params(records: Sequence[LedgerRecord]) -> list[list[Any]]:
    """The column arrays of ledger rows as the unnest statements take them."""
    return [
        [r.run_id for r in records],
        [r.seq for r in records],
        [r.type for r in records],
        [r.phase for r in records],
        [r.task_id for r in records],
        [r.payload for r in records],
        [r.prev_hash for r in records],
        [r.hash for r in records],
    ]


async def insert_chains(
    conn: Conn, records: Sequence[LedgerRecord], heads: dict[str, str], now: datetime
) -> None:
    """Insert :func:`chain_runs` rows and store the new heads (one statement; none: no round trip)."""
    if records:
        await conn.execute(_INSERT_CHAINS, now, *chain_params(records), list(heads), list(heads.values()))


async def insert_outbox(conn: Conn, rows: Sequence[OutboxRow], now: datetime) -> None:
    """Insert outbox rows in one statement (none: no round trip); see :func:`insert_outbox_rows`."""
    if rows:
        params = (now, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
        await insert_outbox_rows(conn, _INSERT_OUTBOX, params, rows, now)
