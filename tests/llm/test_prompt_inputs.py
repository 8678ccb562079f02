"""A real model gets in its prompt everything its task needs: the healthcare example end to end.

The offline model reads the request's structured context; a real model reads only the
prompt. Running the healthcare example (all 13 phases) on ``--model anthropic`` against
the fake Messages API server — which answers from what the *prompt* carries
(:func:`tests.security.offline_messages.offline_reply`) — shows the prompts are enough:
the per-story tasks get their story, and the release dossier, which must list every
artifact with its SHA-256 and the gate results, gets the artifact index and the run
summary. Before, the story-loop gate failed every attempt (each plan missed its story)
and the release gate found the dossier listing none of the artifacts.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ideamine.cli.main import main
from tests.llm.fake_messages_server import FakeMessagesServer, RecordedRequest
from tests.security.offline_messages import data_blocks, offline_model_server

ROOT = Path(__file__).resolve().parents[2]
HEALTHCARE = ROOT / "examples" / "orchestrations" / "healthcare-platform.yaml"


@pytest.fixture
def model_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeMessagesServer]:
    with offline_model_server(monkeypatch) as server:
        yield server


def _tool(request: RecordedRequest) -> str:
    return str(request.body["tools"][0]["name"])


def test_the_healthcare_example_succeeds_on_what_the_prompts_carry(
    model_server: FakeMessagesServer, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["run", str(HEALTHCARE), "--model", "anthropic", "--out", str(out), "--quiet"])
    assert code == 0, err.getvalue()[-3000:]  # 3 would be NEEDS_WAIVER: a gate failed every attempt
    ledger = [json.loads(line) for line in (out / "ledger.jsonl").read_text().splitlines()]
    assert ledger[-1]["type"] == "run.completed"

    by_tool: dict[str, list[RecordedRequest]] = {}
    for r in model_server.requests:
        by_tool.setdefault(_tool(r), []).append(r)
    plans = by_tool["story-plan"]
    assert plans and all("story" in data_blocks(r.user_text) for r in plans)
    [dossier] = by_tool["release-dossier"]
    blocks = data_blocks(dossier.user_text)
    index = json.loads(blocks["artifact-index"])
    stored = {
        (m["type"], m["sha256"])
        for f in (out / "artifacts").glob("*/*.json")
        if (m := json.loads(f.read_text())["meta"])["phase"] not in ("release", "beta")
        and not m["type"].startswith("qav-")  # the process record of Q/A/V, not a deliverable
    }
    assert len(stored) > 40
    assert stored <= {(a["type"], a["sha256"]) for a in index}  # every earlier artifact, with its hash
    summary = json.loads(blocks["run-summary"])
    assert {g["phase"] for g in summary["gates"]} >= {"intake", "prd", "story-loop", "qa"}
    # only the agents that ask for them pay for the index and the summary in their prompts
    [spec] = by_tool["idea-spec"]
    assert not {"artifact-index", "run-summary"} & set(data_blocks(spec.user_text))
