"""Extractors on small hand-built artifacts: values and findings that name ids."""

from __future__ import annotations

from typing import Any

from ideamine.canonical import content_hash
from orchestrator.gates import ArtifactRecord, ArtifactSet, extract
from orchestrator.gates.extractors_delivery import wcag_reference_criteria


def _set(**contents: Any) -> ArtifactSet:
    return ArtifactSet.from_contents({k.replace("_", "-"): v for k, v in contents.items()})


def _story(sid: str, reqs: list[str], acs: list[str], priority: str = "must") -> dict[str, Any]:
    return {"id": sid, "priority": priority, "requirement_ids": reqs, "acceptance": [{"id": a} for a in acs]}


def test_contradictions_between_prd_stories_and_rtm() -> None:
    artifacts = _set(
        prd={
            "requirements": [{"id": "FR-001"}, {"id": "FR-002"}, {"id": "FR-002"}],
            "nfrs": [{"id": "NFR-001"}],
        },
        user_stories={
            "stories": [_story("ST-001", ["FR-001"], ["AC-001"]), _story("ST-002", ["FR-009"], ["AC-001"])]
        },
        rtm={
            "rows": [
                {"requirement_id": "FR-001", "story_ids": ["ST-001", "ST-002"], "acceptance_ids": ["AC-001"]},
                {"requirement_id": "NFR-001", "story_ids": [], "acceptance_ids": ["AC-007"]},
            ]
        },
    )
    value = extract("contradictions", artifacts)
    assert value.value == 5
    assert "duplicate requirement ids: FR-002" in value.findings
    assert "duplicate acceptance ids: AC-001" in value.findings
    assert "stories referencing unknown requirements: ST-002 → FR-009" in value.findings
    assert "rtm rows disagreeing with the stories' requirement ids: FR-001" in value.findings
    assert "rtm references to unknown or unrelated ids: AC-007" in value.findings


def test_coverage_metrics_name_the_missing_ids() -> None:
    artifacts = _set(
        prd={
            "requirements": [{"id": "FR-001", "priority": "must"}, {"id": "FR-002", "priority": "must"}],
            "nfrs": [],
        },
        user_stories={
            "stories": [_story("ST-001", ["FR-001"], ["AC-001", "AC-002"]), _story("ST-002", ["FR-001"], [])]
        },
        test_plan={"cases": [{"id": "TC-001", "ac_ids": ["AC-001"]}]},
    )
    covered = extract("must_requirements_covered", artifacts)
    assert (covered.value, covered.findings) == (0.5, ("must requirements not covered by stories: FR-002",))
    with_ac = extract("stories_with_acceptance", artifacts)
    assert (with_ac.value, with_ac.findings) == (0.5, ("stories without acceptance criteria: ST-002",))
    tested = extract("acceptance_covered_by_tests", artifacts)
    assert (tested.value, tested.findings) == (0.5, ("acceptance criteria without test cases: AC-002",))


def test_risk_breadth_needs_five_risks_in_three_categories() -> None:
    risks = [
        {"id": f"RSK-00{i}", "category": c} for i, c in enumerate(["technical"] * 4 + ["market", "legal"], 1)
    ]
    assert extract("risk_breadth", _set(risk_register={"risks": risks})).value == 1.0
    low = extract("risk_breadth", _set(risk_register={"risks": risks[:4]}))
    assert low.value is not None and low.value < 1 and low.findings


def test_dossier_must_list_every_artifact_with_its_exact_hash() -> None:
    prd: dict[str, Any] = {"requirements": []}
    plans = [{"story_id": "ST-001"}, {"story_id": "ST-002"}]
    listed = [
        {"type": "prd", "sha256": content_hash(prd)},
        {"type": "story-plan", "sha256": content_hash(plans[0])},
        {"type": "story-plan", "sha256": "0" * 64},
    ]
    records = [
        ArtifactRecord.of("prd", prd),
        *(ArtifactRecord.of("story-plan", p) for p in plans),
        ArtifactRecord.of("release-dossier", {"artifacts": listed}),
    ]
    value = extract("dossier_lists_every_artifact", ArtifactSet(records))
    assert value.value == 2 / 3
    assert value.findings == (
        f"artifacts missing from the dossier: story-plan ({content_hash(plans[1])[:12]})",
    )


def test_small_presence_metrics() -> None:
    assert len(wcag_reference_criteria()) == 55
    ci = extract("ci_required_stages", _set(ci_pipeline={"stages": [{"kind": "lint"}, {"kind": "test"}]}))
    assert ci.findings == ("CI stages missing: security",)
    pii = extract(
        "pii_events_with_privacy_note",
        _set(
            telemetry_plan={
                "events": [
                    {"name": "a", "pii": True, "privacy_note": "hashed"},
                    {"name": "b", "pii": True, "privacy_note": None},
                    {"name": "c", "pii": False, "privacy_note": None},
                ]
            }
        ),
    )
    assert (pii.value, pii.findings) == (0.5, ("PII events without a privacy note: b",))
    semver = extract("semver_version", _set(release_notes={"version": "v1"}))
    assert semver.value == 0.0
    assert extract("semver_version", _set(release_notes={"version": "1.2.3-rc.1+build.5"})).value == 1.0
    plans = extract(
        "must_stories_planned",
        ArtifactSet(
            [
                ArtifactRecord.of(
                    "user-stories",
                    {
                        "stories": [
                            _story("ST-001", [], []),
                            _story("ST-002", [], []),
                            _story("ST-003", [], [], "could"),
                        ]
                    },
                ),
                ArtifactRecord.of("story-plan", {"story_id": "ST-002"}),
            ]
        ),
    )
    assert (plans.value, plans.findings) == (0.5, ("must stories without a plan: ST-001",))


def test_artifact_set_views() -> None:
    source = {"story_id": "ST-001"}
    artifacts = ArtifactSet.from_contents({"story-plan": [source, {"story_id": "ST-002"}], "prd": {"x": 1}})
    source["story_id"] = "changed"
    assert [p["story_id"] for p in artifacts.all("story-plan")] == ["ST-001", "ST-002"]
    assert artifacts.one("story-plan") == {"story_id": "ST-002"}
    assert artifacts.one("missing") is None and artifacts.all("missing") == []
    assert "prd" in artifacts and len(artifacts) == 3 and artifacts.types == {"prd", "story-plan"}
