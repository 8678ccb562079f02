"""Fixtures of the LLM tests: a running fake Messages API server and fast providers.

Retry waits are real ``asyncio.sleep`` calls, but with millisecond caps, and every
wait is recorded so tests can check what was honoured without timing anything.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import jsonschema
import pytest

from ideamine.llm.anthropic_provider import AnthropicConfig, AnthropicProvider
from ideamine.llm.base import LLMRequest
from ideamine.llm.breaker import BreakerState, CircuitBreaker
from ideamine.llm.retry import RetryPolicy
from tests.llm.fake_messages_server import FakeMessagesServer

#: millisecond-scale waits: tests never wait seconds
FAST_RETRY = RetryPolicy(
    transient_tries=5,
    transient_initial=0.001,
    transient_max=0.01,
    rate_limited_tries=10,
    rate_limited_max=0.05,
)

IDEA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["title", "target_users"],
    "properties": {
        "title": {"type": "string", "minLength": 1},
        "target_users": {"type": "array", "items": {"type": "string"}, "minItems": 1},
    },
    "additionalProperties": False,
}

VALID_IDEA = {"title": "Todo app", "target_users": ["busy parents"]}


class RecordedWaits:
    """A ``sleep`` for the provider that really waits and remembers how long it was asked to."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(seconds)


class ManualClock:
    """A monotonic clock the test moves by hand (for breaker cool-downs)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def state_of(breaker: CircuitBreaker) -> BreakerState:
    """The breaker's state, read through a call so mypy does not narrow it across awaits."""
    return breaker.state


def make_request(
    artifact_type: str = "idea-spec",
    *,
    prompt: str = "Describe the idea.",
    schema: dict[str, Any] | None = None,
    model: str | None = "claude-haiku-4-5",
    repair_errors: tuple[str, ...] = (),
) -> LLMRequest:
    """A small structured-output request."""
    return LLMRequest(
        agent="intake-agent",
        phase="intake",
        artifact_type=artifact_type,
        schema=schema or IDEA_SCHEMA,
        system="You write product artifacts.",
        prompt=prompt,
        context={"idea": {"text": "a todo app"}},
        model=model,
        max_tokens=1000,
        repair_errors=repair_errors,
    )


def schema_validator(artifact_type: str, content: Any) -> list[str]:
    """The real jsonschema validator over :data:`IDEA_SCHEMA` (stands in for ideamine.schemas)."""
    v = jsonschema.Draft202012Validator(IDEA_SCHEMA)
    return sorted(
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in v.iter_errors(content)
    )


@pytest.fixture
def server() -> Iterator[FakeMessagesServer]:
    """A running fake Messages API server, stopped after the test."""
    with FakeMessagesServer() as s:
        yield s


@pytest.fixture
def waits() -> RecordedWaits:
    """The recorded retry waits of the provider built by ``make_provider``."""
    return RecordedWaits()


@pytest.fixture
async def make_provider(
    server: FakeMessagesServer, waits: RecordedWaits
) -> AsyncIterator[Callable[..., AnthropicProvider]]:
    """Build AnthropicProviders pointed at ``server`` with fast retries; all closed afterwards."""
    made: list[AnthropicProvider] = []

    def build(
        *, retry: RetryPolicy = FAST_RETRY, timeout: float = 30.0, base_url: str | None = None
    ) -> AnthropicProvider:
        config = AnthropicConfig(
            api_key="test-key", base_url=base_url or server.base_url, timeout_seconds=timeout, retry=retry
        )
        p = AnthropicProvider(config, sleep=waits, rng=random.Random(7))
        made.append(p)
        return p

    yield build
    for p in made:
        await p.aclose()
