"""Hostile artifacts from agents and hostile answers from models: typed failures, nothing stored.

Two paths, both real:

- **Worker validation** (PostgreSQL store, Redis queue, the agent host's
  :class:`TaskWorker`): the echo agent (:mod:`tests.fuzz.agents`) returns contents that
  are malformed, huge (MBs), thousands of levels deep or not JSON at all, the wrong
  artifact type, or no list. A schema violation must fail the task with a typed reason
  and store no artifact; anything the worker accepts must be stored exactly as returned.
- **Model outputs** (the metered client and the Anthropic provider against the fake
  Messages API server, via :class:`~ideamine.testing.AgentHarness`): the "model" answers
  with invalid JSON bodies, text instead of the forced tool call, tool inputs that break
  the schema, are deeply nested or MBs long. The intake task must fail with a typed LLM
  reason after its repair tries, with nothing stored and every call metered.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ideamine.agents import Artifact
from ideamine.enums import TaskStatus
from ideamine.errors import decode_task_error
from ideamine.ids import new_id
from ideamine.llm.anthropic_provider import AnthropicConfig, AnthropicProvider
from ideamine.plugins import AgentRegistry, get_plugin_manager
from ideamine.schemas import validate_artifact
from ideamine.testing import AgentHarness
from tests.agent_host.support import seed_task
from tests.fuzz.agents import REPORT, SCHEMA, EchoAgent
from tests.fuzz.conftest import Consumer
from tests.fuzz.values import MB, Opaque, deep, hostile, huge, json_values, unwrap
from tests.llm.conftest import FAST_RETRY
from tests.llm.fake_messages_server import FakeMessagesServer, Reply, text_reply
from tests.queue.helpers import eventually

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.postgres, pytest.mark.redis]

#: reasons a task may fail with when its output is bad (never AGENT_CRASHED: that is a bug)
TYPED = {"AGENT_ERROR", "LLM_OUTPUT_INVALID", "LLM_ERROR"}

_outputs = st.one_of(
    hostile.map(lambda c: Opaque([Artifact(REPORT, unwrap(c), "fuzz")], f"[Artifact({REPORT!r}, {c!r})]")),
    json_values.map(lambda c: [Artifact("not-declared", {"title": "x", "items": []}, "fuzz"), c]),
    st.just([]),
    json_values,  # not a list of artifacts at all
)


def _violates_schema(output: Any) -> bool:
    import jsonschema

    if not (isinstance(output, list) and len(output) == 1 and isinstance(output[0], Artifact)):
        return True
    artifact = output[0]
    try:
        return artifact.type != REPORT or not jsonschema.Draft202012Validator(SCHEMA).is_valid(
            artifact.content
        )
    except RecursionError:
        return True


@given(output=_outputs)
async def test_bad_artifacts_fail_the_task_with_a_typed_error_and_store_nothing(
    consumer: Consumer, output: Any
) -> None:
    case, output = new_id(), unwrap(output)
    EchoAgent.OUTPUTS[case] = output
    task = await seed_task(
        consumer.store, consumer.queue, agent="fuzz-echo", task_key="fuzz-echo", extra_input={"case": case}
    )
    done = await eventually(
        lambda: consumer.store.get_task(task.id),
        lambda t: t.status in (TaskStatus.SUCCEEDED, TaskStatus.FAILED),
        what="the echo task to finish",
        within=120,
    )
    stored = await consumer.store.list_artifacts(task.run_id)
    if done.status is TaskStatus.FAILED:
        reason, _, message = decode_task_error(done.error)
        assert reason in TYPED, f"{reason}: {message}"
        assert "Traceback" not in message
        assert stored == []
        return
    assert not _violates_schema(output), "a schema violation was committed"
    [artifact] = stored
    assert artifact.content == output[0].content  # accepted means stored exactly as returned


def _envelope(tool_input_json: str) -> bytes:
    """A Messages API response whose tool_use input is the given JSON text (built as text:
    json.dumps cannot write the deepest documents)."""
    head = (
        '{"id":"msg_fuzz","type":"message","role":"assistant","model":"claude-haiku-4-5",'
        '"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":10},'
        '"content":[{"type":"tool_use","id":"toolu_fuzz","name":"idea-classification","input":'
    )
    return (head + tool_input_json + "}]}").encode()


def _deep_json(depth: int) -> str:
    return '{"category":' * depth + '"x"' + "}" * depth


_JSON = (("content-type", "application/json"),)


def _reply(plan: tuple[str, Any]) -> Reply:
    """The scripted reply a plan describes (plans, not replies, are drawn: reprs stay small)."""
    kind, arg = plan
    if kind == "json":  # any JSON as the tool input: mostly schema violations
        return Reply(200, _envelope(json.dumps(arg)), _JSON)
    if kind == "deep":
        return Reply(200, _envelope(_deep_json(arg)), _JSON)
    if kind == "huge":
        return Reply(200, _envelope(json.dumps({"category": "x" * (arg * MB)})), _JSON)
    if kind == "bytes":  # not JSON at all
        return Reply(200, arg, _JSON)
    if kind == "cut":  # a body cut off mid-way
        return Reply(200, _envelope('{"category":')[:arg], _JSON)
    return text_reply(arg)  # text instead of the forced tool call


_plans = st.one_of(
    st.tuples(st.just("json"), json_values),
    st.tuples(st.just("deep"), st.integers(500, 100_000)),
    st.tuples(st.just("huge"), st.integers(1, 4)),
    st.tuples(st.just("bytes"), st.binary(max_size=200)),
    st.tuples(st.just("cut"), st.integers(10, 400)),
    st.tuples(st.just("text"), st.text(max_size=50)),
)


@given(plans=st.lists(_plans, min_size=3, max_size=3))
async def test_bad_model_outputs_fail_with_typed_errors_and_store_nothing(
    plans: list[tuple[str, Any]],
) -> None:
    with FakeMessagesServer() as server:
        server.script(*map(_reply, plans))
        config = AnthropicConfig(
            api_key="fuzz-key", base_url=server.base_url, timeout_seconds=60, retry=FAST_RETRY
        )
        provider = AnthropicProvider(config, rng=random.Random(1))
        async with AgentHarness(model=provider) as h:
            result = await h.run("classify", check=False)
            calls = await h.store.list_llm_calls(run_id=h.run_id)
    if result.task.status is TaskStatus.SUCCEEDED:  # the fuzzer found a valid answer: it must be one
        [artifact] = result.artifacts
        assert not validate_artifact(artifact.type, artifact.content)
        return
    assert result.task.status is TaskStatus.FAILED
    reason, _, message = result.error or ("", False, "")
    assert reason in TYPED, f"{reason}: {message}"
    assert result.artifacts == []
    assert len(calls) == len(server.requests) >= 1  # every request was metered, failures included


@given(content=st.one_of(deep(max_depth=20_000), huge(max_mb=3)))
async def test_the_output_validator_refuses_any_depth_and_size_without_crashing(content: Opaque) -> None:
    """The validator every model output and artifact goes through (``AgentRegistry.validator``)."""
    validate = AgentRegistry.from_plugin_manager(get_plugin_manager()).validator("intake")
    errors = validate("idea-classification", content.value)
    assert errors and all(isinstance(e, str) and len(e) < 5000 for e in errors)
