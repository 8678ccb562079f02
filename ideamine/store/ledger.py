"""The ledger hash chain: pure functions both backends and ``ideamine ledger verify`` share.

Each ledger row stores ``hash = sha256(prev_hash + canonical_json(content))`` where the
content is the row's own fields (run id, seq, type, phase, task id, payload, creation
time) and ``prev_hash`` is the previous row's hash (:data:`GENESIS_HASH` for seq 1).
Keeping the computation here — and nowhere else — is what lets a chain written by the
PostgreSQL backend be verified by the same code that verifies a SQLite one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ideamine.canonical import canonical_json, sha256_hex
from ideamine.store.records import LedgerRecord, LedgerVerification

__all__ = [
    "GENESIS_HASH",
    "CONTENT_FIELDS",
    "iso_timestamp",
    "row_content",
    "row_hash",
    "record_hash",
    "verify_chain",
]

#: ``prev_hash`` of the first row of every run's chain
GENESIS_HASH = "0" * 64

#: the fields a row's hash covers (``prev_hash`` is chained in front, ``hash`` is the result)
CONTENT_FIELDS: tuple[str, ...] = ("run_id", "seq", "type", "phase", "task_id", "payload", "created_at")


def iso_timestamp(value: datetime | str) -> str:
    """The one textual form of a ledger time that enters a hash.

    Always UTC with microseconds, so a datetime that round-trips through either
    database (both keep microseconds) hashes identically before and after storage.
    Naive datetimes are taken to be UTC; strings are parsed and normalised.
    """
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def row_content(row: Mapping[str, Any]) -> dict[str, Any]:
    """The hashed content of a ledger row given as a mapping with :data:`CONTENT_FIELDS`."""
    return {
        "run_id": str(row["run_id"]),
        "seq": int(row["seq"]),
        "type": row["type"],
        "phase": row.get("phase"),
        "task_id": None if row.get("task_id") is None else str(row["task_id"]),
        "payload": row.get("payload") or {},
        "created_at": iso_timestamp(row["created_at"]),
    }


def row_hash(prev_hash: str, row: Mapping[str, Any]) -> str:
    """SHA-256 hex of ``prev_hash`` followed by the canonical JSON of the row's content."""
    return sha256_hex(prev_hash.encode("ascii") + canonical_json(row_content(row)))


def record_hash(record: LedgerRecord) -> str:
    """Recompute the hash a stored :class:`LedgerRecord` should carry."""
    return row_hash(
        record.prev_hash,
        {
            "run_id": record.run_id,
            "seq": record.seq,
            "type": record.type,
            "phase": record.phase,
            "task_id": record.task_id,
            "payload": record.payload,
            "created_at": record.created_at,
        },
    )


def verify_chain(rows: Sequence[LedgerRecord]) -> LedgerVerification:
    """Check one run's rows (in seq order) form an unbroken chain from :data:`GENESIS_HASH`.

    A row is bad when its seq is not the next number, its ``prev_hash`` is not the
    previous row's hash, or its stored hash does not match its content. Only the first
    bad row is reported: every later row is suspect once the chain breaks.
    """
    prev = GENESIS_HASH
    for expected_seq, rec in enumerate(rows, start=1):
        if rec.seq != expected_seq:
            return _bad(len(rows), expected_seq, f"expected seq {expected_seq}, found {rec.seq}")
        if rec.prev_hash != prev:
            return _bad(len(rows), rec.seq, "prev_hash does not match the previous row's hash")
        if record_hash(rec) != rec.hash:
            return _bad(len(rows), rec.seq, "hash does not match the row's content")
        prev = rec.hash
    return LedgerVerification(ok=True, rows=len(rows))


def _bad(rows: int, seq: int, reason: str) -> LedgerVerification:
    return LedgerVerification(ok=False, rows=rows, first_bad_seq=seq, reason=reason)
