"""Extractors of the delivery-side gates: architecture, build, security, story-loop, qa,
aesthetic, release and beta."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from ideamine.schemas import load_schema
from orchestrator.gates.artifacts import ArtifactSet
from orchestrator.gates.metrics import (
    DEFAULT_STORY_CAP,
    MetricValue,
    count,
    coverage,
    ids_finding,
    items_of,
    metric,
)
from orchestrator.gates.metrics import required as _one

_HIGH = frozenset({"high", "critical"})
_REQUIRED_CI_STAGES = ("lint", "test", "security")
_TOKEN_GROUPS = ("colors", "typography", "spacing")
#: semver 2.0.0 (https://semver.org), pre-release and build metadata allowed
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)


def _ids(content: Mapping[str, Any], key: str) -> list[str]:
    return [str(x.get("id")) for x in items_of(content, key)]


def _flag(ok: bool, finding: str) -> MetricValue:
    return MetricValue(1.0 if ok else 0.0, () if ok else (finding,))


@metric("requirements_mapped_to_components", "prd", "architecture")
def requirements_mapped_to_components(a: ArtifactSet) -> MetricValue:
    mapped = [
        str(r) for c in items_of(_one(a, "architecture"), "components") for r in c.get("requirement_ids", [])
    ]
    return coverage("requirements not mapped to a component", _ids(_one(a, "prd"), "requirements"), mapped)


@metric("api_entities_exist", "api-design", "data-model")
def api_entities_exist(a: ArtifactSet) -> MetricValue:
    known = set(_ids(_one(a, "data-model"), "entities"))
    refs = [
        (str(e.get("id")), str(x))
        for e in items_of(_one(a, "api-design"), "endpoints")
        for x in e.get("entity_ids", [])
    ]
    if not refs:
        return MetricValue(1.0)
    dangling = [f"{api} → {ent}" for api, ent in refs if ent not in known]
    return MetricValue(
        (len(refs) - len(dangling)) / len(refs),
        ids_finding("endpoints referencing unknown entities", dangling),
    )


@metric("adr_count", "architecture")
def adr_count(a: ArtifactSet) -> MetricValue:
    return count(items_of(_one(a, "architecture"), "decisions"), "architecture decisions", 3)


@metric("dr_targets_present", "infrastructure-plan")
def dr_targets_present(a: ArtifactSet) -> MetricValue:
    dr = _one(a, "infrastructure-plan").get("dr")
    ok = isinstance(dr, Mapping) and all(
        isinstance(dr.get(k), int | float) for k in ("rto_minutes", "rpo_minutes")
    )
    return _flag(ok, "disaster recovery lacks rto_minutes/rpo_minutes targets")


@metric("components_with_module", "architecture", "repo-blueprint")
def components_with_module(a: ArtifactSet) -> MetricValue:
    modules = [str(m.get("component_id")) for m in items_of(_one(a, "repo-blueprint"), "modules")]
    return coverage("components without a module", _ids(_one(a, "architecture"), "components"), modules)


@metric("ci_required_stages", "ci-pipeline")
def ci_required_stages(a: ArtifactSet) -> MetricValue:
    kinds = {str(s.get("kind")) for s in items_of(_one(a, "ci-pipeline"), "stages")}
    return coverage("CI stages missing", list(_REQUIRED_CI_STAGES), kinds)


def _high_threats(a: ArtifactSet) -> list[Mapping[str, Any]]:
    return [t for t in items_of(_one(a, "threat-model"), "threats") if t.get("severity") in _HIGH]


@metric("uncontrolled_high_threats", "threat-model", "security-controls")
def uncontrolled_high_threats(a: ArtifactSet) -> MetricValue:
    """High/critical threats with no control that security-controls defines (either direction of reference)."""
    controls = items_of(_one(a, "security-controls"), "controls")
    defined = {str(c.get("id")) for c in controls}
    claimed = {str(t) for c in controls for t in c.get("threat_ids", [])}
    open_ids = [
        str(t.get("id"))
        for t in _high_threats(a)
        if not (defined & {str(c) for c in t.get("control_ids", [])}) and str(t.get("id")) not in claimed
    ]
    return MetricValue(
        float(len(open_ids)), ids_finding("high/critical threats without a defined control", open_ids)
    )


@metric("compliance_mapped", "idea-spec", "privacy-assessment", "security-controls")
def compliance_mapped(a: ArtifactSet) -> MetricValue:
    """Share of compliance units mapped to defined controls: every row of the compliance map,
    plus one unit per regime of the idea's constraints that has no row at all."""
    defined = set(_ids(_one(a, "security-controls"), "controls"))
    rows = items_of(_one(a, "privacy-assessment"), "compliance_map")
    constraints = _one(a, "idea-spec").get("constraints")
    regimes = (
        [str(r) for r in (constraints or {}).get("compliance", [])]
        if isinstance(constraints, Mapping)
        else []
    )
    mapped_regimes = {str(r.get("regime")).casefold() for r in rows}
    unmapped_regimes = [r for r in regimes if r.casefold() not in mapped_regimes]
    bad_rows = [
        f"{r.get('regime')}: {r.get('requirement')}"
        for r in rows
        if not {str(c) for c in r.get("control_ids", [])} & defined
    ]
    total = len(rows) + len(unmapped_regimes)
    if total == 0:
        return MetricValue(1.0)
    findings = ids_finding("compliance regimes without a mapping", unmapped_regimes)
    findings += ids_finding("compliance requirements without a defined control", bad_rows)
    return MetricValue((len(rows) - len(bad_rows)) / total, findings)


@metric("sbom_and_signing", "supply-chain-policy")
def sbom_and_signing(a: ArtifactSet) -> MetricValue:
    policy = _one(a, "supply-chain-policy")
    sbom, signing = policy.get("sbom"), policy.get("signing")
    parts = [
        isinstance(sbom, Mapping) and bool(sbom.get("format")),
        isinstance(signing, Mapping) and bool(signing.get("tool")),
    ]
    missing = [name for name, ok in zip(("SBOM format", "signing tool"), parts, strict=True) if not ok]
    return MetricValue(sum(parts) / 2, ids_finding("supply-chain policy lacks", missing))


@metric("must_stories_planned", "user-stories", "story-plan")
def must_stories_planned(a: ArtifactSet) -> MetricValue:
    """Planned must stories over min(must stories, story cap): independent of which ones the engine picked."""
    must = [
        str(s.get("id")) for s in items_of(_one(a, "user-stories"), "stories") if s.get("priority") == "must"
    ]
    planned = {str(p.get("story_id")) for p in a.all("story-plan")}
    want = min(len(must), DEFAULT_STORY_CAP)
    if want == 0:
        return MetricValue(1.0)
    value = min(1.0, sum(1 for s in must if s in planned) / want)
    unplanned = [s for s in must if s not in planned]
    return MetricValue(value, ids_finding("must stories without a plan", unplanned) if value < 1 else ())


@metric("critical_review_findings", "story-review")
def critical_review_findings(a: ArtifactSet) -> MetricValue:
    critical = [
        f"{r.get('story_id')} ({f.get('finding')})"
        for r in a.all("story-review")
        for f in items_of(r, "findings")
        if f.get("severity") == "critical"
    ]
    return MetricValue(float(len(critical)), ids_finding("critical review findings", critical))


@metric("acceptance_covered_by_tests", "user-stories", "test-plan")
def acceptance_covered_by_tests(a: ArtifactSet) -> MetricValue:
    acs = [
        str(c.get("id"))
        for s in items_of(_one(a, "user-stories"), "stories")
        for c in items_of(s, "acceptance")
    ]
    tested = [str(x) for c in items_of(_one(a, "test-plan"), "cases") for x in c.get("ac_ids", [])]
    return coverage("acceptance criteria without test cases", acs, tested)


@metric("performance_nfrs_with_load_scenario", "prd", "load-test-plan")
def performance_nfrs_with_load_scenario(a: ArtifactSet) -> MetricValue:
    perf = [str(n.get("id")) for n in items_of(_one(a, "prd"), "nfrs") if n.get("category") == "performance"]
    scenarios = [str(s.get("nfr_id")) for s in items_of(_one(a, "load-test-plan"), "scenarios")]
    return coverage("performance NFRs without a load scenario", perf, scenarios)


@metric("high_threats_with_security_test", "threat-model", "security-test-plan")
def high_threats_with_security_test(a: ArtifactSet) -> MetricValue:
    tested = [str(c.get("threat_id")) for c in items_of(_one(a, "security-test-plan"), "cases")]
    return coverage(
        "high/critical threats without a security test", [str(t.get("id")) for t in _high_threats(a)], tested
    )


@functools.cache
def wcag_reference_criteria() -> tuple[str, ...]:
    """WCAG 2.2 level A and AA success criteria, as enumerated by the accessibility-report schema."""
    props = load_schema("accessibility-report")["properties"]["criteria"]["items"]["properties"]
    return tuple(props["id"]["enum"])


@metric("wcag_criteria_assessed", "accessibility-report")
def wcag_criteria_assessed(a: ArtifactSet) -> MetricValue:
    assessed = [
        str(c.get("id"))
        for c in items_of(_one(a, "accessibility-report"), "criteria")
        if c.get("status") not in (None, "not-assessed")
    ]
    return coverage("WCAG A/AA criteria not assessed", list(wcag_reference_criteria()), assessed)


@metric("design_tokens_present", "design-system")
def design_tokens_present(a: ArtifactSet) -> MetricValue:
    tokens = _one(a, "design-system").get("tokens")
    tokens = tokens if isinstance(tokens, Mapping) else {}
    return coverage(
        "design token groups missing", list(_TOKEN_GROUPS), [g for g in _TOKEN_GROUPS if tokens.get(g)]
    )


@metric("rollback_plan_present", "deployment-plan")
def rollback_plan_present(a: ArtifactSet) -> MetricValue:
    rollback = _one(a, "deployment-plan").get("rollback")
    ok = isinstance(rollback, Mapping) and bool(rollback.get("trigger")) and bool(rollback.get("steps"))
    return _flag(ok, "deployment plan lacks a rollback trigger and steps")


@metric("dossier_lists_every_artifact", "release-dossier")
def dossier_lists_every_artifact(a: ArtifactSet) -> MetricValue:
    """Share of the run's other artifacts the dossier lists with their exact SHA-256."""
    listed = {
        (str(x.get("type")), str(x.get("sha256"))) for x in items_of(_one(a, "release-dossier"), "artifacts")
    }
    expected = [r for r in a.records() if r.type != "release-dossier"]
    if not expected:
        return MetricValue(1.0)
    missing = [f"{r.type} ({r.sha256[:12]})" for r in expected if (r.type, r.sha256) not in listed]
    return MetricValue(
        (len(expected) - len(missing)) / len(expected),
        ids_finding("artifacts missing from the dossier", missing),
    )


@metric("semver_version", "release-notes")
def semver_version(a: ArtifactSet) -> MetricValue:
    version = str(_one(a, "release-notes").get("version", ""))
    return _flag(bool(_SEMVER.match(version)), f"release version {version!r} is not semver")


@metric("beta_channels", "beta-plan")
def beta_channels(a: ArtifactSet) -> MetricValue:
    return count(items_of(_one(a, "beta-plan"), "channels"), "beta channels", 2)


@metric("telemetry_event_count", "telemetry-plan")
def telemetry_event_count(a: ArtifactSet) -> MetricValue:
    return count(items_of(_one(a, "telemetry-plan"), "events"), "telemetry events", 20)


@metric("pii_events_with_privacy_note", "telemetry-plan")
def pii_events_with_privacy_note(a: ArtifactSet) -> MetricValue:
    events = [e for e in items_of(_one(a, "telemetry-plan"), "events") if e.get("pii")]
    noted = [str(e.get("name")) for e in events if str(e.get("privacy_note") or "").strip()]
    return coverage("PII events without a privacy note", [str(e.get("name")) for e in events], noted)
