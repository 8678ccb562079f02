"""Gate scoring: the decision rule, findings that name ids, and the extractor registry."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from typing import Any

import pytest

from ideamine.catalogue import GateSpec, MetricSpec, load_catalogue
from ideamine.enums import GateDecision
from orchestrator.gates import (
    ArtifactRecord,
    ArtifactSet,
    evaluate_gate,
    extract,
    extractor_names,
    metric_inputs,
)
from tests.artifacts.pipeline import PipelineRun, load_idea, run_pipeline

CATALOGUE = load_catalogue()
_RUN: list[PipelineRun] = []


async def _healthcare() -> PipelineRun:
    if not _RUN:
        _RUN.append(await run_pipeline(load_idea("healthcare-platform")))
    return _RUN[0]


def _replace(run: PipelineRun, artifact_type: str, content: dict[str, Any] | None) -> ArtifactSet:
    """The run's artifacts with every record of ``artifact_type`` replaced by ``content`` (None: removed)."""
    records = [r for r in run.records if r.type != artifact_type]
    if content is not None:
        records.append(ArtifactRecord.of(artifact_type, content))
    return ArtifactSet(records)


def test_every_catalogue_metric_has_an_extractor_and_every_extractor_is_used() -> None:
    used = {m.metric for p in CATALOGUE.phases for m in p.gate.metrics}
    assert used == extractor_names()
    produced = set(CATALOGUE.artifact_types)
    for name in used:
        assert metric_inputs(name) and set(metric_inputs(name)) <= produced, name


async def test_required_metric_failing_fails_even_with_a_high_score() -> None:
    run = await _healthcare()
    prd = CATALOGUE.phase("prd")
    stories = copy.deepcopy(run.latest["user-stories"])
    dropped: set[str] = set()
    for s in stories["stories"][:4]:
        dropped |= {c["id"] for c in s["acceptance"]}
        s["acceptance"] = []
    rtm = copy.deepcopy(run.latest["rtm"])
    for row in rtm["rows"]:
        row["acceptance_ids"] = [a for a in row["acceptance_ids"] if a not in dropped]
    metrics = tuple(
        replace(m, weight=0.01) if m.metric == "stories_with_acceptance" else m for m in prd.gate.metrics
    )
    artifacts = ArtifactSet(
        [r for r in run.records if r.type not in ("user-stories", "rtm")]
        + [ArtifactRecord.of("user-stories", stories), ArtifactRecord.of("rtm", rtm)]
    )
    result = evaluate_gate(replace(prd, gate=replace(prd.gate, min_score=10, metrics=metrics)), artifacts)
    assert result.score > 95
    assert result.decision is GateDecision.FAIL
    failing = {m.metric for m in result.failing_metrics}
    assert "stories_with_acceptance" in failing
    assert any(
        f.startswith("stories without acceptance criteria: ST-001, ST-002, ST-003, ST-004")
        for f in result.findings
    )
    assert result.rerun_artifact_types(prd.artifact_types) == ("user-stories",)


async def test_missing_artifact_fails_with_full_score() -> None:
    run = await _healthcare()
    bizdev = CATALOGUE.phase("bizdev")
    result = evaluate_gate(bizdev, _replace(run, "monetization", None))
    assert result.score == 100
    assert result.decision is GateDecision.FAIL
    assert result.missing_artifacts == ("monetization",)
    assert "missing artifact: monetization" in result.findings


async def test_warn_band_and_pass() -> None:
    run = await _healthcare()
    bizdev = CATALOGUE.phase("bizdev")
    model = copy.deepcopy(run.latest["business-model"])
    model["unit_economics"]["payback_months"] = 18
    artifacts = _replace(run, "business-model", model)
    lowered = replace(bizdev, gate=replace(bizdev.gate, min_score=65))
    result = evaluate_gate(lowered, artifacts)
    assert result.score == pytest.approx(70)
    assert result.decision is GateDecision.WARN
    assert "CAC payback is 18 months (need ≤ 12)" in result.findings
    assert (
        evaluate_gate(bizdev, artifacts).decision is GateDecision.WARN
    )  # score == min_score is not below it
    assert (
        evaluate_gate(replace(bizdev, gate=replace(bizdev.gate, min_score=71)), artifacts).decision
        is GateDecision.FAIL
    )
    assert (
        evaluate_gate(replace(bizdev, gate=replace(bizdev.gate, min_score=59)), artifacts).decision
        is GateDecision.PASS
    )


async def test_uncontrolled_high_threat_is_blocking_and_unwaivable() -> None:
    run = await _healthcare()
    security = CATALOGUE.phase("security")
    controls = copy.deepcopy(run.latest["security-controls"])
    controls["controls"] = [
        c for c in controls["controls"] if c["family"] not in ("authentication", "access-control")
    ]
    for c in controls["controls"]:
        c["threat_ids"] = []
    result = evaluate_gate(security, _replace(run, "security-controls", controls))
    assert result.decision is GateDecision.FAIL
    assert result.blocking_unwaivable
    assert any(f.startswith("high/critical threats without a defined control: THR-") for f in result.findings)


async def test_missing_input_yields_none_and_a_finding() -> None:
    run = await _healthcare()
    value = extract("api_entities_exist", _replace(run, "data-model", None))
    assert value.value is None
    assert value.findings == ("missing input artifact: data-model",)


def test_synthetic_gate_and_json_ready_result() -> None:
    phase = replace(
        CATALOGUE.phase("beta"),
        gate=GateSpec(
            min_score=50,
            max_attempts=1,
            metrics=(
                MetricSpec("beta_channels", ">=", 2, 0.5, required=True),
                MetricSpec("telemetry_event_count", "between", (1, 5), 0.5),
            ),
        ),
    )
    artifacts = ArtifactSet.from_contents(
        {
            "beta-plan": {"channels": [{"name": "a"}, {"name": "b"}]},
            "telemetry-plan": {"events": [{"name": "x", "pii": True, "privacy_note": None}]},
            "analytics-plan": {},
        }
    )
    result = evaluate_gate(phase, artifacts)
    assert (result.score, result.decision) == (100.0, GateDecision.PASS)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["decision"] == "PASS"
    assert data["metrics"][1]["threshold"] == [1, 5]
