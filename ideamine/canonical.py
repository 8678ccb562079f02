"""Canonical JSON and content hashes.

Every hash IdeaMine stores (artifact SHA-256, ledger chain, idempotency keys, replay
cassette keys, plan hashes) is taken over the same canonical encoding, so two
processes — or two backends — always agree on a hash for equal content.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["canonical_json", "sha256_hex", "content_hash", "json_problems", "MAX_JSON_DEPTH"]

#: deepest nesting an artifact may have (json and PostgreSQL give up near 1,000 and 10,000)
MAX_JSON_DEPTH = 100


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


def json_problems(value: Any, *, max_depth: int = MAX_JSON_DEPTH, limit: int = 5) -> list[str]:
    """What keeps ``value`` from being stored as JSON by every backend (empty: nothing).

    A schema cannot say these, and each would otherwise fail deep inside a commit: NaN
    and infinities (not JSON), non-string keys and non-JSON types, NUL characters
    (PostgreSQL ``jsonb`` refuses ``\\u0000``), lone surrogates (not UTF-8) and nesting
    deeper than ``max_depth`` (``json`` recurses). Walks iteratively, so any depth is safe.
    """
    problems: list[str] = []
    stack: list[tuple[Any, str, int]] = [(value, "$", 0)]
    while stack and len(problems) < limit:
        item, path, depth = stack.pop()
        if depth > max_depth:
            problems.append(f"{path}: nested deeper than {max_depth} levels")
        elif isinstance(item, dict):
            for k, v in item.items():
                if not isinstance(k, str):
                    problems.append(f"{path}: key {k!r} is not a string")
                else:
                    where = f"{path}[{k[:40]!r}]"  # repr: the path itself stays storable
                    problems.extend(_text_problem(k, f"{where} (the key)"))
                    stack.append((v, where, depth + 1))
        elif isinstance(item, list | tuple):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(item))
        elif isinstance(item, str):
            problems.extend(_text_problem(item, path))
        elif isinstance(item, float) and (item != item or item in (float("inf"), float("-inf"))):
            problems.append(f"{path}: {item} is not a JSON number")
        elif item is not None and not isinstance(item, bool | int | float):
            problems.append(f"{path}: a {type(item).__name__} is not JSON")
    return problems[:limit]


def _text_problem(text: str, path: str) -> list[str]:
    if "\x00" in text:
        return [f"{path}: contains a NUL character"]
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return [f"{path}: contains a lone surrogate (not UTF-8)"]
    return []
