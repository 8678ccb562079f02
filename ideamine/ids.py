"""Identifiers: one id type everywhere, a time-ordered UUID (version 7).

Why version 7: ids sort by creation time, so B-tree indexes on PostgreSQL and SQLite
stay append-mostly and listings come out in creation order without an extra column.
Python 3.11 has no ``uuid.uuid7``; the layout below follows RFC 9562 §5.7.
"""

from __future__ import annotations

import os
import re
import threading
import time
import uuid

__all__ = ["new_id", "is_id"]

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def new_id() -> str:
    """Return a new UUIDv7 as its canonical 36-character string.

    Ids made in the same millisecond by this process keep their order through a
    12-bit counter in ``rand_a`` (RFC 9562 method 1), so ordering is strict within
    a process and by millisecond across processes.
    """
    global _last_ms, _counter
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            _counter += 1
            if _counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                _last_ms += 1
                _counter = 0
            ms = _last_ms
        else:
            _last_ms = ms
            _counter = int.from_bytes(os.urandom(2), "big") & 0x3FF  # leave headroom
        counter = _counter
    rand_b = int.from_bytes(os.urandom(8), "big") & 0x3FFF_FFFF_FFFF_FFFF
    value = (ms & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76
    value |= counter << 64
    value |= 0b10 << 62
    value |= rand_b
    return str(uuid.UUID(int=value))


#: the canonical text of a UUID: lower-case hex in 8-4-4-4-12 groups
_CANONICAL = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def is_id(text: str) -> bool:
    """True when ``text`` is a canonical lower-case UUID string (any version).

    A pattern match, not a parse: every store call checks its ids, several per task.
    """
    return isinstance(text, str) and _CANONICAL.fullmatch(text) is not None
