"""The offline model: valid, idea-specific, consistent across artifacts, deterministic."""

from __future__ import annotations

import pytest

from ideamine.canonical import canonical_json
from ideamine.catalogue import load_catalogue
from ideamine.enums import GateDecision
from ideamine.errors import LLMError
from ideamine.llm.base import LLMProvider, LLMRequest
from ideamine.llm.offline import OfflineProvider, estimate_tokens, generate, supported_types
from ideamine.schemas import validate_artifact
from tests.artifacts.pipeline import EXAMPLE_NAMES, PipelineRun, load_idea, run_pipeline

CATALOGUE = load_catalogue()
_RUNS: dict[str, PipelineRun] = {}


async def _run(name: str) -> PipelineRun:
    if name not in _RUNS:
        _RUNS[name] = await run_pipeline(load_idea(name))
    return _RUNS[name]


def test_every_catalogue_type_has_a_generator() -> None:
    from plugins.clarifier import ClarifierAgent

    # the catalogue's types plus the Q/A types of the built-in clarifier agent, nothing else
    assert supported_types() == set(CATALOGUE.artifact_types) | set(ClarifierAgent.schemas)


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
async def test_pipeline_outputs_validate_and_every_gate_passes(name: str) -> None:
    run = await _run(name)
    assert {r.type for r in run.records} == set(CATALOGUE.artifact_types)
    for record in run.records:
        assert validate_artifact(record.type, record.content) == [], record.type
    for phase, gate in run.gates.items():
        assert gate.decision is not GateDecision.FAIL, (phase, gate.score, gate.findings)
        assert not gate.missing_artifacts
    print(f"\n{name}: {len(run.records)} artifacts generated in {run.generation_seconds * 1000:.0f} ms")


async def test_different_ideas_give_different_artifacts() -> None:
    todo, health = await _run("todo-app"), await _run("healthcare-platform")

    def texts(run: PipelineRun, artifact_type: str, key: str, field: str) -> set[str]:
        return {str(i[field]) for i in run.latest[artifact_type][key]}

    assert not texts(todo, "prd", "requirements", "text") & texts(health, "prd", "requirements", "text") - {
        r["text"] for r in todo.latest["prd"]["requirements"] if r["source"] == "product baseline"
    }
    assert texts(todo, "personas", "personas", "name").isdisjoint(
        texts(health, "personas", "personas", "name")
    )
    generic = {"Occasional user", "Power user", "Administrator"}
    assert (texts(todo, "personas", "personas", "role") - generic).isdisjoint(
        texts(health, "personas", "personas", "role")
    )
    assert texts(todo, "threat-model", "threats", "title") != texts(
        health, "threat-model", "threats", "title"
    )
    assert any("health information" in t for t in texts(health, "threat-model", "threats", "title"))
    assert any("DICOM" in t for t in texts(health, "prd", "requirements", "text"))
    assert any("offline" in t for t in texts(todo, "prd", "requirements", "text"))


async def test_output_scales_with_complexity() -> None:
    todo, iot, health = [await _run(n) for n in EXAMPLE_NAMES]
    assert todo.latest["idea-spec"]["complexity"] == "low"
    assert iot.latest["idea-spec"]["complexity"] == "medium"
    assert health.latest["idea-spec"]["complexity"] == "high"
    sizes = [len(r.latest["prd"]["requirements"]) for r in (todo, iot, health)]
    assert sizes == sorted(sizes) and sizes[0] < sizes[2]
    assert len(todo.latest["user-stories"]["stories"]) < len(health.latest["user-stories"]["stories"])
    assert set(health.latest["idea-spec"]["constraints"]["compliance"]) >= {
        "HIPAA",
        "GDPR",
        "FDA 510(k)",
        "SOC 2 Type II",
    }


async def test_same_input_gives_byte_identical_output() -> None:
    first = await run_pipeline(load_idea("iot-dashboard"))
    second = await run_pipeline(load_idea("iot-dashboard"))
    assert [canonical_json(r.content) for r in first.records] == [
        canonical_json(r.content) for r in second.records
    ]


def test_feedback_naming_a_story_adds_acceptance_criteria() -> None:
    idea = load_idea("iot-dashboard")
    base = generate("user-stories", {"idea": idea})
    fixed = generate(
        "user-stories", {"idea": idea, "feedback": ["stories without acceptance criteria: ST-004"]}
    )
    count = {s["id"]: len(s["acceptance"]) for s in base["stories"]}
    after = {s["id"]: len(s["acceptance"]) for s in fixed["stories"]}
    assert after["ST-004"] == count["ST-004"] + 1
    assert {k: v for k, v in after.items() if k != "ST-004"} == {
        k: v for k, v in count.items() if k != "ST-004"
    }
    assert validate_artifact("user-stories", fixed) == []


def test_feedback_naming_a_use_case_gets_every_persona_to_cover_it() -> None:
    idea = load_idea("healthcare-platform")
    fixed = generate("personas", {"idea": idea, "feedback": ["use cases not covered by personas: UC-02"]})
    assert all("UC-02" in {u["use_case_id"] for u in p["use_cases"]} for p in fixed["personas"])


@pytest.mark.parametrize("artifact_type", sorted(load_catalogue().artifact_types))
def test_idea_only_context_still_yields_valid_artifacts(artifact_type: str) -> None:
    idea = {
        "text": "A marketplace where local bakers sell bread to neighbours. Buyers pay by card and pick up "
        "orders at the bakery. Bakers manage stock and see daily sales."
    }
    assert validate_artifact(artifact_type, generate(artifact_type, {"idea": idea})) == []


async def test_provider_contract() -> None:
    provider = OfflineProvider()
    assert isinstance(provider, LLMProvider)
    request = LLMRequest(
        agent="ideation",
        phase="ideation",
        artifact_type="personas",
        schema={},
        system="sys",
        prompt="make personas",
        context={"idea": load_idea("todo-app")},
    )
    result = await provider.complete(request)
    assert (result.provider, result.model, result.cost_usd) == ("offline", "offline", 0.0)
    assert result.input_tokens == estimate_tokens("sys" + "make personas")
    assert result.output_tokens == estimate_tokens(canonical_json(result.content).decode())
    assert result.extra["token_counts"] == "estimated"
    with pytest.raises(LLMError) as caught:
        await provider.complete(
            LLMRequest(
                agent="x", phase="x", artifact_type="nope", schema={}, system="", prompt="", context={}
            )
        )
    assert not caught.value.retryable
    await provider.aclose()
