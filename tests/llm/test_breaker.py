"""CircuitBreaker state machine with a hand-moved clock."""

from __future__ import annotations

import asyncio

import pytest

from ideamine.catalogue import load_catalogue
from ideamine.errors import LLMCircuitOpen, LLMError, LLMOutputInvalid, LLMRetryable
from ideamine.llm.breaker import BreakerRegistry, BreakerState, CircuitBreaker
from tests.llm.conftest import ManualClock, state_of


async def fail() -> None:
    raise LLMRetryable("boom")


async def ok() -> str:
    return "ok"


async def trip(breaker: CircuitBreaker, n: int) -> None:
    for _ in range(n):
        with pytest.raises(LLMRetryable):
            await breaker.call(fail)


async def test_opens_only_after_consecutive_failures():
    b = CircuitBreaker("p/m", failures=3, clock=ManualClock())
    await trip(b, 2)
    assert await b.call(ok) == "ok"  # success resets the count
    await trip(b, 2)
    assert state_of(b) is BreakerState.CLOSED
    await trip(b, 1)
    assert state_of(b) is BreakerState.OPEN


async def test_open_circuit_refuses_without_calling_and_says_when():
    clock = ManualClock()
    b = CircuitBreaker("anthropic/m", failures=1, half_open_after=30, clock=clock)
    await trip(b, 1)
    called = False

    async def probe() -> None:
        nonlocal called
        called = True

    clock.now += 10
    with pytest.raises(LLMCircuitOpen) as info:
        await b.call(probe)
    assert not called
    assert info.value.retryable and info.value.details["retry_in_seconds"] == pytest.approx(20)
    assert "anthropic/m" in str(info.value)


async def test_half_open_allows_one_trial_and_a_failed_trial_reopens():
    clock = ManualClock()
    b = CircuitBreaker("p/m", failures=2, half_open_after=30, clock=clock)
    await trip(b, 2)
    clock.now += 30
    assert state_of(b) is BreakerState.HALF_OPEN

    release = asyncio.Event()

    async def slow_fail() -> None:
        await release.wait()
        raise LLMRetryable("still down")

    trial = asyncio.create_task(b.call(slow_fail))
    await asyncio.sleep(0)  # let the trial start and take the slot
    with pytest.raises(LLMCircuitOpen):
        await b.call(ok)  # a second caller while the trial is in flight
    release.set()
    with pytest.raises(LLMRetryable):
        await trial
    assert state_of(b) is BreakerState.OPEN  # one failed trial re-opens for a full cool-down
    clock.now += 30
    assert await b.call(ok) == "ok"
    assert state_of(b) is BreakerState.CLOSED


@pytest.mark.parametrize("exc", [LLMError("bad request", retryable=False), LLMOutputInvalid("no tool call")])
async def test_answers_that_are_not_outages_do_not_count(exc):
    b = CircuitBreaker("p/m", failures=1, clock=ManualClock())

    async def refuse() -> None:
        raise exc

    for _ in range(3):
        with pytest.raises(type(exc)):
            await b.call(refuse)
    assert state_of(b) is BreakerState.CLOSED


async def test_cancelled_trial_frees_the_half_open_slot():
    clock = ManualClock()
    b = CircuitBreaker("p/m", failures=1, half_open_after=5, clock=clock)
    await trip(b, 1)
    clock.now += 5
    trial = asyncio.create_task(b.call(asyncio.Event().wait))
    await asyncio.sleep(0)
    trial.cancel()
    with pytest.raises(asyncio.CancelledError):
        await trial
    assert await b.call(ok) == "ok"


def test_registry_shares_one_breaker_per_provider_model_with_catalogue_settings():
    reg = BreakerRegistry.from_catalogue(load_catalogue().defaults.circuit_breaker)
    a = reg.get("anthropic", "claude-haiku-4-5")
    assert reg.get("anthropic", "claude-haiku-4-5") is a
    assert reg.get("anthropic", "claude-opus-4-1") is not a
    assert (a.failures, a.half_open_after) == (5, 30.0)
