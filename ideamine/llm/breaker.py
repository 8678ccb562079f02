"""Circuit breakers per provider/model.

When a model backend keeps failing after its own retries, more calls only burn time,
budget reservations and the vendor's patience. The breaker counts consecutive
retryable failures; at the threshold it opens and refuses calls outright
(:class:`~ideamine.errors.LLMCircuitOpen`, retryable so the engine heals later). After
the cool-down one trial call is let through (half-open): success closes the circuit,
failure re-opens it for another cool-down.

Only :class:`~ideamine.errors.LLMRetryable` failures count: a 400 is the caller's
fault and an invalid output means the backend answered, so neither says the backend is
unhealthy.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from ideamine.errors import LLMCircuitOpen, LLMRetryable

__all__ = ["BreakerState", "CircuitBreaker", "BreakerRegistry"]

T = TypeVar("T")
Clock = Callable[[], float]


class BreakerState(enum.Enum):
    """Where a breaker stands."""

    CLOSED = "closed"  #: calls flow; failures are counted
    OPEN = "open"  #: calls are refused until the cool-down ends
    HALF_OPEN = "half_open"  #: one trial call is allowed to probe the backend


class CircuitBreaker:
    """A consecutive-failure breaker for one provider/model.

    Args:
        key: what the breaker guards (``"anthropic/claude-sonnet-4-5"``), used in errors.
        failures: consecutive retryable failures that open the circuit.
        half_open_after: seconds the circuit stays open before a trial call.
        clock: monotonic seconds; injectable so tests move time instead of waiting.
    """

    def __init__(
        self, key: str, *, failures: int = 5, half_open_after: float = 30.0, clock: Clock = time.monotonic
    ) -> None:
        if failures < 1:
            raise ValueError("failures must be >= 1")
        self.key = key
        self.failures = failures
        self.half_open_after = half_open_after
        self._clock = clock
        self._consecutive = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False

    @property
    def state(self) -> BreakerState:
        """The current state (an open circuit turns half-open once the cool-down has passed)."""
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self.half_open_after:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def _admit(self) -> bool:
        """Allow a call now or raise LLMCircuitOpen; True when the call is the half-open trial."""
        state = self.state
        if state is BreakerState.CLOSED:
            return False
        if state is BreakerState.HALF_OPEN and not self._trial_in_flight:
            self._trial_in_flight = True
            return True
        assert self._opened_at is not None
        retry_in = max(0.0, self.half_open_after - (self._clock() - self._opened_at))
        raise LLMCircuitOpen(
            f"circuit for {self.key} is open after {self._consecutive} consecutive failures",
            breaker=self.key,
            retry_in_seconds=round(retry_in, 3),
        )

    def _succeeded(self) -> None:
        self._consecutive = 0
        self._opened_at = None

    def _failed(self) -> None:
        self._consecutive += 1
        if self._opened_at is not None or self._consecutive >= self.failures:
            self._opened_at = self._clock()

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run ``fn`` through the breaker.

        Raises:
            LLMCircuitOpen: the circuit is open (``fn`` is not called).
        """
        trial = self._admit()
        try:
            result = await fn()
        except LLMRetryable:
            self._failed()
            raise
        except Exception:
            # the backend answered (bad request, invalid output ...): it is reachable
            self._succeeded()
            raise
        except BaseException:
            # cancelled: the trial proved nothing; let the next caller probe
            raise
        else:
            self._succeeded()
            return result
        finally:
            if trial:
                self._trial_in_flight = False


class BreakerRegistry:
    """One breaker per ``provider/model``, created on first use with shared settings.

    Share one registry per process (the agent host's) so every client of a model sees
    the same circuit.
    """

    def __init__(
        self, *, failures: int = 5, half_open_after: float = 30.0, clock: Clock = time.monotonic
    ) -> None:
        self._failures = failures
        self._half_open_after = half_open_after
        self._clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}

    @classmethod
    def from_catalogue(cls, settings: Mapping[str, Any], *, clock: Clock = time.monotonic) -> BreakerRegistry:
        """Build from the catalogue's ``defaults.circuit_breaker`` block."""
        return cls(
            failures=int(settings.get("failures", 5)),
            half_open_after=float(settings.get("half_open_after_seconds", 30.0)),
            clock=clock,
        )

    def get(self, provider: str, model: str) -> CircuitBreaker:
        """The breaker for ``provider/model`` (created closed on first use)."""
        key = f"{provider}/{model}"
        breaker = self._breakers.get(key)
        if breaker is None:
            breaker = CircuitBreaker(
                key, failures=self._failures, half_open_after=self._half_open_after, clock=self._clock
            )
            self._breakers[key] = breaker
        return breaker
