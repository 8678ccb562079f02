"""Retry rules for model calls: error classes, capped full-jitter backoff, ``retry-after``.

Retries are ours, not the SDK's (it runs with ``max_retries=0``), so that every wait is
capped, jittered, counted and honours the server's ``retry-after``. The classes and
defaults come from the catalogue's ``defaults.retry`` block:

- transient (5xx, 529 overloaded, 408/409, connection errors, timeouts): up to 5 tries,
  waits ``uniform(0, min(max, initial * 2**n))`` (full jitter), 1 s -> 60 s;
- rate-limited (429): up to 10 tries, wait the server's ``retry-after`` (else the
  jittered backoff), never longer than 300 s;
- fatal (other 4xx: validation, auth, spend limits, not found): no retry.
"""

from __future__ import annotations

import email.utils
import enum
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["ErrorClass", "RetryPolicy", "classify_status", "parse_retry_after"]


class ErrorClass(enum.Enum):
    """How a failed call is treated."""

    TRANSIENT = "transient"  #: server-side or network trouble: back off and retry
    RATE_LIMITED = "rate_limited"  #: 429: wait as told, retry
    FATAL = "fatal"  #: the request itself is refused: retrying cannot help


def classify_status(status: int) -> ErrorClass:
    """The error class of an HTTP status from the Messages API."""
    if status == 429:
        return ErrorClass.RATE_LIMITED
    if status >= 500 or status in (408, 409):
        return ErrorClass.TRANSIENT
    return ErrorClass.FATAL


def parse_retry_after(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds the server asked us to wait, from ``retry-after-ms`` or ``retry-after``.

    ``retry-after`` may be delta-seconds (fractions tolerated) or an HTTP date.
    Returns None when absent or unparseable; never negative.
    """
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """Tries and waits per error class (seconds; tests use milliseconds).

    Args:
        transient_tries: total tries (first call included) for transient errors.
        transient_initial: backoff base of the first retry.
        transient_max: backoff cap.
        rate_limited_tries: total tries for 429s.
        rate_limited_max: cap on any rate-limit wait, ``retry-after`` included.
    """

    transient_tries: int = 5
    transient_initial: float = 1.0
    transient_max: float = 60.0
    rate_limited_tries: int = 10
    rate_limited_max: float = 300.0

    @classmethod
    def from_catalogue(cls, retry: Mapping[str, Any]) -> RetryPolicy:
        """Build from the catalogue's ``defaults.retry`` block."""
        t = retry.get("transient", {})
        r = retry.get("rate_limited", {})
        return cls(
            transient_tries=int(t.get("max_tries", cls.transient_tries)),
            transient_initial=float(t.get("initial_seconds", cls.transient_initial)),
            transient_max=float(t.get("max_seconds", cls.transient_max)),
            rate_limited_tries=int(r.get("max_tries", cls.rate_limited_tries)),
            rate_limited_max=float(r.get("max_seconds", cls.rate_limited_max)),
        )

    def max_tries(self, kind: ErrorClass) -> int:
        """Total tries allowed for ``kind`` (1 for fatal errors)."""
        if kind is ErrorClass.TRANSIENT:
            return self.transient_tries
        if kind is ErrorClass.RATE_LIMITED:
            return self.rate_limited_tries
        return 1

    def delay(self, kind: ErrorClass, failures: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait after the ``failures``-th failure of class ``kind``.

        A server-given ``retry-after`` wins over the computed backoff but is capped by
        the class's maximum, so a hostile or broken header cannot park a task for hours.
        """
        cap = self.rate_limited_max if kind is ErrorClass.RATE_LIMITED else self.transient_max
        if retry_after is not None:
            return min(retry_after, cap)
        ceiling = min(cap, self.transient_initial * 2 ** max(0, failures - 1))
        return rng.uniform(0.0, ceiling)
