"""Canonical JSON and content hashes.

Every hash IdeaMine stores (artifact SHA-256, ledger chain, idempotency keys, replay
cassette keys, plan hashes) is taken over the same canonical encoding, so two
processes — or two backends — always agree on a hash for equal content.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["canonical_json", "sha256_hex", "content_hash"]


def canonical_json(value: Any) -> bytes:
    """Encode ``value`` as canonical JSON bytes: sorted keys, no spaces, UTF-8.

    Floats that are integral are kept as floats by ``json``; callers that hash
    numbers should store them consistently (the store always round-trips JSON).
    """
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def sha256_hex(data: bytes | str) -> str:
    """Hex SHA-256 of bytes, or of a string's UTF-8 encoding."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def content_hash(value: Any) -> str:
    """Hex SHA-256 of the canonical JSON encoding of ``value``."""
    return sha256_hex(canonical_json(value))
