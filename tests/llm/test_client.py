"""MeteredLLM without a store: repair loop, breaker and usage, over the real SDK and server."""

from __future__ import annotations

import dataclasses

import pytest

from ideamine.errors import LLMCircuitOpen, LLMOutputInvalid, LLMRetryable
from ideamine.llm.base import LLMProvider
from ideamine.llm.breaker import BreakerRegistry, BreakerState
from ideamine.llm.client import MeteredLLM, estimate_input_tokens
from tests.llm.conftest import FAST_RETRY, VALID_IDEA, ManualClock, make_request, schema_validator, state_of
from tests.llm.fake_messages_server import error_reply, text_reply, tool_reply


def metered(
    provider: LLMProvider,
    *,
    breakers: BreakerRegistry | None = None,
    model: str | None = None,
    max_repairs: int = 2,
) -> MeteredLLM:
    return MeteredLLM(
        provider,
        store=None,
        scope_id=None,
        run_id=None,
        phase="intake",
        task_id=None,
        agent="intake-agent",
        validate=schema_validator,
        breakers=breakers,
        max_repairs=max_repairs,
        model=model,
    )


async def test_valid_first_answer_is_returned_with_its_usage(server, make_provider):
    server.script(tool_reply(VALID_IDEA, input_tokens=500, output_tokens=100))
    llm = metered(make_provider())
    art = await llm.generate(make_request())
    assert art.content == VALID_IDEA
    assert (art.calls, art.input_tokens, art.output_tokens) == (1, 500, 100)
    assert art.cost_usd == pytest.approx((500 + 100 * 5) / 1e6)
    assert (art.provider, art.model) == ("anthropic", "claude-haiku-4-5-20251001")
    assert llm.usage.calls == 1 and llm.usage.cost_usd == pytest.approx(art.cost_usd)


async def test_schema_invalid_output_is_repaired_with_the_errors_fed_back(server, make_provider):
    server.script(
        tool_reply({"title": 5, "target_users": []}, input_tokens=300, output_tokens=20),
        tool_reply(VALID_IDEA, input_tokens=400, output_tokens=30),
    )
    llm = metered(make_provider())
    art = await llm.generate(make_request())

    assert art.content == VALID_IDEA
    assert (art.calls, art.input_tokens, art.output_tokens) == (2, 700, 50)
    first, second = server.requests
    assert "untrusted_data" not in first.user_text
    expected = schema_validator("idea-spec", {"title": 5, "target_users": []})
    assert len(expected) == 2
    for error in expected:
        assert f"- {error}" in second.user_text


async def test_three_invalid_outputs_raise_after_exactly_three_requests(server, make_provider):
    server.script(*[tool_reply({"title": ""})] * 3, tool_reply(VALID_IDEA))
    llm = metered(make_provider())
    with pytest.raises(LLMOutputInvalid) as info:
        await llm.generate(make_request())
    assert len(server.requests) == 3
    assert server.pending == 1
    errors = info.value.details["errors"]
    assert any("target_users" in e for e in errors) and any("title" in e for e in errors)
    assert "target_users" in str(info.value)
    assert llm.usage.calls == 3


async def test_answer_without_tool_call_is_repaired_too(server, make_provider):
    server.script(text_reply("I think the idea is great."), tool_reply(VALID_IDEA))
    art = await metered(make_provider()).generate(make_request())
    assert art.content == VALID_IDEA and art.calls == 2
    assert "calling the idea-spec tool" in server.requests[1].user_text


async def test_client_model_applies_when_the_request_names_none(server, make_provider):
    server.script(tool_reply(VALID_IDEA))
    await metered(make_provider(), model="claude-haiku-4-5").generate(make_request(model=None))
    assert server.requests[0].body["model"] == "claude-haiku-4-5"


async def test_breaker_opens_after_five_failures_and_half_opens_after_cool_down(server, make_provider):
    clock = ManualClock()
    breakers = BreakerRegistry(failures=5, half_open_after=30.0, clock=clock)
    provider = make_provider(retry=dataclasses.replace(FAST_RETRY, transient_tries=1))
    llm = metered(provider, breakers=breakers)
    server.script(*[error_reply(500)] * 5)
    for _ in range(5):
        with pytest.raises(LLMRetryable):
            await llm.generate(make_request())

    breaker = breakers.get("anthropic", "claude-haiku-4-5")
    assert state_of(breaker) is BreakerState.OPEN
    with pytest.raises(LLMCircuitOpen):
        await llm.generate(make_request())
    assert len(server.requests) == 5  # the sixth never reached the server

    clock.now += 29.0
    with pytest.raises(LLMCircuitOpen):
        await llm.generate(make_request())
    clock.now += 1.0
    assert state_of(breaker) is BreakerState.HALF_OPEN
    server.script(tool_reply(VALID_IDEA))
    art = await llm.generate(make_request())
    assert art.content == VALID_IDEA
    assert state_of(breaker) is BreakerState.CLOSED
    assert len(server.requests) == 6
    assert llm.usage.calls == 6  # refused calls are not counted


def test_input_estimate_counts_system_prompt_schema_and_errors():
    base = make_request(prompt="x" * 400)
    assert estimate_input_tokens(base) > 100
    assert (
        estimate_input_tokens(make_request(prompt="x" * 400, repair_errors=("e" * 400,)))
        > estimate_input_tokens(base) + 100
    )
