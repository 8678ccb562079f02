"""Scripted Messages API answers that are real artifacts: the offline model behind the wire.

The fake server of ``tests/llm`` answers each request with the next scripted reply. To
drive whole runs through the *anthropic* provider (the real SDK, real HTTP, real
retries), :func:`offline_reply` answers every request with what the offline model would
have produced: it reads the forced tool's name (the artifact type) and input schema from
the request, recovers the idea and the upstream artifacts from the prompt's data blocks,
and returns a ``tool_use`` block with the generated content. So a run on
``--model anthropic`` against :class:`FakeMessagesServer` completes like an offline run,
while every prompt the agents built is recorded for inspection.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from ideamine.llm.offline import generate
from ideamine.llm.prompting import DATA_TAG
from tests.llm.fake_messages_server import DEFAULT_MODEL, FakeMessagesServer, Reply

__all__ = ["BLOCK", "data_blocks", "offline_model_server", "offline_reply", "script_offline"]

#: one real data block: ``<untrusted_data name="...">\n...\n</untrusted_data>`` (bodies never
#: contain a real closing tag: ``data_block`` neutralises look-alikes to ``&lt;``)
BLOCK = re.compile(rf'<{DATA_TAG} name="([^"]*)">\n(.*?)\n</{DATA_TAG}>', re.DOTALL)
_NEUTRALISED = re.compile(rf"&lt;(?=\s*/?\s*{DATA_TAG}\b)", re.IGNORECASE)


def data_blocks(text: str) -> dict[str, str]:
    """Name → body of every data block in ``text`` (bodies as written, still neutralised)."""
    return {m.group(1): m.group(2) for m in BLOCK.finditer(text)}


def _json(body: str) -> Any:
    try:
        return json.loads(_NEUTRALISED.sub("<", body))
    except ValueError:
        return None  # an upstream artifact cut at the prompt's size cap


def _context(prompt: str) -> dict[str, Any]:
    """What a reader of the prompt learns: the idea, the upstream artifacts, and — as
    :meth:`ideamine.agent_kit.SchemaAgent.user_prompt` writes them — the story a per-story
    task is about, the accepted answers, the previous attempt's gate findings, and for the
    agents that ask for them the artifact index and the run summary (gates, cost)."""
    blocks = data_blocks(prompt)
    idea = _json(blocks.get("idea", "")) or {"text": ""}
    artifacts = {
        name.removeprefix("artifact_"): value
        for name, body in blocks.items()
        if name.startswith("artifact_") and isinstance(value := _json(body), dict)
    }
    story = _json(blocks.get("story", ""))
    answers = _json(blocks.get("answers", ""))
    index = _json(blocks.get("artifact-index", ""))
    summary = _json(blocks.get("run-summary", ""))
    findings = blocks.get("gate-findings", "")
    return {
        "idea": idea,
        "artifacts": artifacts,
        "artifact_index": index if isinstance(index, list) else [],
        "story": story if isinstance(story, dict) else None,
        "answers": answers if isinstance(answers, list) else [],
        "feedback": [f for f in _NEUTRALISED.sub("<", findings).splitlines() if f],
        **(summary if isinstance(summary, dict) else {}),
    }


def _answer(body: Any) -> dict[str, Any]:
    tool = body["tools"][0]
    content = body["messages"][0]["content"]
    prompt = content if isinstance(content, str) else "".join(b.get("text", "") for b in content)
    tool_input = generate(tool["name"], _context(prompt), tool["input_schema"])
    text = json.dumps(tool_input)
    return {
        "id": "msg_offline",
        "type": "message",
        "role": "assistant",
        "model": body.get("model") or DEFAULT_MODEL,
        "content": [{"type": "tool_use", "id": "toolu_offline", "name": tool["name"], "input": tool_input}],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": max(1, len(prompt) // 4), "output_tokens": max(1, len(text) // 4)},
    }


def offline_reply() -> Reply:
    """A 200 whose ``tool_use`` input is the offline model's artifact for the request."""
    return Reply(200, _answer, (("content-type", "application/json"),))


def script_offline(server: FakeMessagesServer, count: int = 5000) -> None:
    """Queue ``count`` offline answers (enough for any run the tests make)."""
    reply = offline_reply()
    server.script(*([reply] * count))


@contextlib.contextmanager
def offline_model_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeMessagesServer]:
    """The fake Messages API answering with offline artifacts, and the CLI's ``--model
    anthropic`` pointed at it (API key and base URL in the environment)."""
    with FakeMessagesServer() as server:
        script_offline(server)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key-not-secret")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
        yield server
