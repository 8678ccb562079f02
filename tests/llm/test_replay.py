"""Record answers from the real SDK + server, then replay them with the server gone."""

from __future__ import annotations

import json

import pytest

from ideamine.canonical import canonical_json
from ideamine.errors import InvalidInput, ReplayMiss
from ideamine.llm.anthropic_provider import AnthropicConfig, AnthropicProvider
from ideamine.llm.providers import make_provider as build_provider
from ideamine.llm.replay import RecordingProvider, ReplayProvider
from tests.llm.conftest import VALID_IDEA, make_request
from tests.llm.fake_messages_server import tool_reply

REQUESTS = [
    make_request(prompt="first"),
    make_request(prompt="second", repair_errors=("title: too short",)),
    make_request("personas", prompt="third"),
]


async def test_recorded_answers_replay_identically_without_the_server(server, make_provider, tmp_path):
    cassette = tmp_path / "run.jsonl"
    server.script(
        tool_reply(VALID_IDEA, input_tokens=11, output_tokens=5),
        tool_reply(
            {"title": "Ünïcode ✓", "target_users": ["a", "b"], "n": 1.5}, input_tokens=22, output_tokens=6
        ),
        tool_reply({"personas": [{"name": "Ana"}]}, input_tokens=33, output_tokens=7),
    )
    recorder = RecordingProvider(make_provider(), cassette)
    assert recorder.name == "anthropic"
    originals = [await recorder.complete(r) for r in REQUESTS]
    server.stop()

    lines = [json.loads(line) for line in cassette.read_text(encoding="utf-8").splitlines()]
    assert [line["request_hash"] for line in lines] == [r.request_hash() for r in REQUESTS]
    assert lines[1]["request"]["repair_errors"] == ["title: too short"]
    assert lines[2]["request"]["artifact_type"] == "personas"

    replay = ReplayProvider(cassette)
    assert len(replay) == 3
    for request, original in zip(reversed(REQUESTS), reversed(originals), strict=True):
        again = await replay.complete(request)
        assert canonical_json(again.content) == canonical_json(original.content)
        assert (again.input_tokens, again.output_tokens) == (original.input_tokens, original.output_tokens)
        assert (again.model, again.provider, again.cost_usd) == (
            original.model,
            "anthropic",
            original.cost_usd,
        )
        assert again.request_id == original.request_id
        assert again.extra["replay"] is True and "replay" not in original.extra


async def test_missing_entry_is_a_replay_miss_naming_type_and_hash(tmp_path):
    cassette = tmp_path / "empty.jsonl"
    cassette.write_text("", encoding="utf-8")
    request = make_request("prd")
    with pytest.raises(ReplayMiss) as info:
        await ReplayProvider(cassette).complete(request)
    assert "'prd'" in str(info.value) and request.request_hash() in str(info.value)
    assert info.value.details["request_hash"] == request.request_hash()
    assert not info.value.retryable


async def test_a_changed_request_misses_instead_of_falling_back(server, make_provider, tmp_path):
    cassette = tmp_path / "c.jsonl"
    server.script(tool_reply(VALID_IDEA))
    await RecordingProvider(make_provider(), cassette).complete(make_request(prompt="original"))
    with pytest.raises(ReplayMiss):
        await ReplayProvider(cassette).complete(make_request(prompt="original, edited"))


async def test_repeated_requests_replay_in_recorded_order_then_repeat_the_last(
    server, make_provider, tmp_path
):
    cassette = tmp_path / "c.jsonl"
    server.script(tool_reply({"v": 1}), tool_reply({"v": 2}))
    recorder = RecordingProvider(make_provider(), cassette)
    request = make_request()
    await recorder.complete(request)
    await recorder.complete(request)
    replay = ReplayProvider(cassette)
    assert [(await replay.complete(request)).content["v"] for _ in range(3)] == [1, 2, 2]


def test_unreadable_cassettes_are_invalid_input(tmp_path):
    with pytest.raises(InvalidInput, match="cannot read cassette"):
        ReplayProvider(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"request_hash": "a", "result": {}}\n{"oops"\n', encoding="utf-8")
    with pytest.raises(InvalidInput, match="line 2"):
        ReplayProvider(bad)


async def test_make_provider_builds_each_spec(server, tmp_path):
    cassette = tmp_path / "c.jsonl"
    cassette.write_text("", encoding="utf-8")
    config = AnthropicConfig(api_key="k", base_url=server.base_url)
    anthropic = build_provider("anthropic", anthropic=config)
    recorder = build_provider(f"record:{tmp_path / 'new.jsonl'}", anthropic=config)
    try:
        assert isinstance(anthropic, AnthropicProvider)
        assert isinstance(build_provider(f"replay:{cassette}"), ReplayProvider)
        assert isinstance(recorder, RecordingProvider) and isinstance(recorder.inner, AnthropicProvider)
    finally:
        await anthropic.aclose()
        await recorder.aclose()


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("gpt", "unknown LLM provider"),
        ("replay:", "needs a cassette path"),
        ("record", "needs a cassette path"),
        ("offline:x", "takes no argument"),
        ("anthropic", "API key"),
    ],
)
def test_make_provider_rejects_bad_specs(spec, match):
    with pytest.raises(InvalidInput, match=match):
        build_provider(spec)


def test_make_provider_refuses_to_record_a_replay(tmp_path):
    with pytest.raises(InvalidInput, match="cannot wrap"):
        build_provider(f"record:{tmp_path / 'c.jsonl'}", record_inner=f"replay:{tmp_path / 'x'}")


def test_make_provider_offline_is_lazy_and_named_offline():
    offline = pytest.importorskip("ideamine.llm.offline", reason="the offline provider is not written yet")
    if not hasattr(offline, "OfflineProvider"):
        pytest.skip("ideamine.llm.offline has no OfflineProvider yet")
    provider = build_provider("offline")
    assert provider.name == "offline"
