"""Extractors of the product-side gates: intake, ideation, critique, prd and bizdev."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

from orchestrator.gates.artifacts import ArtifactSet
from orchestrator.gates.metrics import MetricValue, count, coverage, ids_finding, items_of, metric
from orchestrator.gates.metrics import required as _one


@metric("intake_completeness", "intake-report")
def intake_completeness(a: ArtifactSet) -> MetricValue:
    report = _one(a, "intake-report")
    issues = [f"intake issue ({i.get('field')}): {i.get('message')}" for i in items_of(report, "issues")]
    value = report.get("completeness")
    return MetricValue(float(value) if isinstance(value, int | float) else None, tuple(issues))


@metric("target_users", "idea-spec")
def target_users(a: ArtifactSet) -> MetricValue:
    return count(_one(a, "idea-spec").get("target_users"), "target users", 1)


@metric("success_criteria", "idea-spec")
def success_criteria(a: ArtifactSet) -> MetricValue:
    return count(_one(a, "idea-spec").get("success_criteria"), "success criteria", 1)


@metric("persona_count", "personas")
def persona_count(a: ArtifactSet) -> MetricValue:
    n = len(items_of(_one(a, "personas"), "personas"))
    findings = () if 3 <= n <= 5 else (f"personas: {n} (need 3 to 5)",)
    return MetricValue(float(n), findings)


@metric("competitor_count", "competitive-analysis")
def competitor_count(a: ArtifactSet) -> MetricValue:
    return count(items_of(_one(a, "competitive-analysis"), "competitors"), "competitors", 3)


@metric("use_case_coverage", "idea-spec", "personas")
def use_case_coverage(a: ArtifactSet) -> MetricValue:
    wanted = [str(u.get("id")) for u in items_of(_one(a, "idea-spec"), "use_cases")]
    covered = [
        str(u.get("use_case_id"))
        for p in items_of(_one(a, "personas"), "personas")
        for u in items_of(p, "use_cases")
    ]
    return coverage("use cases not covered by personas", wanted, covered)


@metric("unresolved_critical_findings", "critique-report")
def unresolved_critical_findings(a: ArtifactSet) -> MetricValue:
    open_ids = [
        str(f.get("id"))
        for f in items_of(_one(a, "critique-report"), "findings")
        if f.get("severity") == "critical" and not f.get("resolved_by")
    ]
    return MetricValue(float(len(open_ids)), ids_finding("critical findings without resolution", open_ids))


@metric("risk_breadth", "risk-register")
def risk_breadth(a: ArtifactSet) -> MetricValue:
    """min(risks / 5, categories / 3): at least 1.0 exactly when ≥ 5 risks span ≥ 3 categories."""
    risks = items_of(_one(a, "risk-register"), "risks")
    categories = sorted({str(r.get("category")) for r in risks})
    value = min(len(risks) / 5, len(categories) / 3)
    findings = (
        () if value >= 1 else (f"risks: {len(risks)} (need ≥ 5) across categories {categories} (need ≥ 3)",)
    )
    return MetricValue(value, findings)


@metric("counterfactual_count", "counterfactuals")
def counterfactual_count(a: ArtifactSet) -> MetricValue:
    return count(items_of(_one(a, "counterfactuals"), "items"), "counterfactuals", 5)


@metric("stories_with_acceptance", "user-stories")
def stories_with_acceptance(a: ArtifactSet) -> MetricValue:
    stories = items_of(_one(a, "user-stories"), "stories")
    return coverage(
        "stories without acceptance criteria",
        [str(s.get("id")) for s in stories],
        [str(s.get("id")) for s in stories if items_of(s, "acceptance")],
    )


@metric("must_requirements_covered", "prd", "user-stories")
def must_requirements_covered(a: ArtifactSet) -> MetricValue:
    must = [str(r.get("id")) for r in items_of(_one(a, "prd"), "requirements") if r.get("priority") == "must"]
    covered = [
        str(i) for s in items_of(_one(a, "user-stories"), "stories") for i in s.get("requirement_ids", [])
    ]
    return coverage("must requirements not covered by stories", must, covered)


@metric("nfr_count", "prd")
def nfr_count(a: ArtifactSet) -> MetricValue:
    return count(items_of(_one(a, "prd"), "nfrs"), "non-functional requirements", 3)


def _duplicates(ids: list[str]) -> list[str]:
    return [i for i, n in Counter(ids).items() if n > 1]


@metric("contradictions", "prd", "user-stories", "rtm")
def contradictions(a: ArtifactSet) -> MetricValue:
    """Disagreements between prd, user-stories and rtm: duplicate ids, dangling references,
    and rtm rows that disagree with the stories' own requirement ids."""
    prd, stories_doc, rtm = _one(a, "prd"), _one(a, "user-stories"), _one(a, "rtm")
    reqs = [str(r.get("id")) for r in items_of(prd, "requirements")] + [
        str(n.get("id")) for n in items_of(prd, "nfrs")
    ]
    stories = items_of(stories_doc, "stories")
    story_ids = [str(s.get("id")) for s in stories]
    ac_ids = [str(c.get("id")) for s in stories for c in items_of(s, "acceptance")]
    found: list[str] = []
    found += ids_finding("duplicate requirement ids", _duplicates(reqs))
    found += ids_finding("duplicate story ids", _duplicates(story_ids))
    found += ids_finding("duplicate acceptance ids", _duplicates(ac_ids))
    known = set(reqs)
    found += ids_finding(
        "stories referencing unknown requirements",
        [f"{s.get('id')} → {r}" for s in stories for r in s.get("requirement_ids", []) if r not in known],
    )
    by_req: dict[str, set[str]] = defaultdict(set)
    for s in stories:
        for r in s.get("requirement_ids", []):
            by_req[str(r)].add(str(s.get("id")))
    acs_of = {str(s.get("id")): {str(c.get("id")) for c in items_of(s, "acceptance")} for s in stories}
    mismatched, dangling = [], []
    for row in items_of(rtm, "rows"):
        rid = str(row.get("requirement_id"))
        listed = {str(x) for x in row.get("story_ids", [])}
        if rid not in known:
            dangling.append(rid)
        dangling += sorted(listed - set(story_ids))
        if rid.startswith("FR-") and listed != by_req.get(rid, set()):
            mismatched.append(rid)
        allowed = set().union(*(acs_of.get(s, set()) for s in listed)) if listed else set()
        dangling += sorted(set(map(str, row.get("acceptance_ids", []))) - allowed)
    found += ids_finding("rtm rows disagreeing with the stories' requirement ids", mismatched)
    found += ids_finding("rtm references to unknown or unrelated ids", dangling)
    return MetricValue(float(len(found)), tuple(found))


def _economics(a: ArtifactSet) -> Mapping[str, Any]:
    value = _one(a, "business-model").get("unit_economics")
    return value if isinstance(value, Mapping) else {}


@metric("ltv_cac_ratio", "business-model")
def ltv_cac_ratio(a: ArtifactSet) -> MetricValue:
    ue = _economics(a)
    ltv, cac = ue.get("ltv"), ue.get("cac")
    if not isinstance(ltv, int | float) or not isinstance(cac, int | float) or cac <= 0:
        return MetricValue(None, ("unit economics lack a positive ltv and cac",))
    ratio = ltv / cac
    return MetricValue(ratio, () if ratio >= 3 else (f"LTV/CAC is {ratio:.2f} (need ≥ 3)",))


@metric("payback_months", "business-model")
def payback_months(a: ArtifactSet) -> MetricValue:
    months = _economics(a).get("payback_months")
    if not isinstance(months, int | float):
        return MetricValue(None, ("unit economics lack payback_months",))
    return MetricValue(
        float(months), () if months <= 12 else (f"CAC payback is {months:g} months (need ≤ 12)",)
    )


@metric("gtm_channels", "gtm-plan")
def gtm_channels(a: ArtifactSet) -> MetricValue:
    return count(items_of(_one(a, "gtm-plan"), "channels"), "go-to-market channels", 1)
