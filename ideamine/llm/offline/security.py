"""Generators of the security phase: threat model, controls, privacy assessment, supply chain.

Control ids are planned from the idea (:func:`control_plan`), so the threat model (which runs
first) and the controls (which run after it) agree on them; the controls also define every
id a supplied threat model references, whoever wrote it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ideamine.llm.offline.analysis import Analysis
from ideamine.llm.offline.catalog import CONTROL_FAMILIES, REGIMES, STRIDE_FAMILIES
from ideamine.llm.offline.ctx import JSON, Ctx, seq
from ideamine.llm.offline.engineering import component_key_of
from ideamine.llm.offline.registry import generator
from ideamine.llm.offline.text import clip, human_list

__all__ = ["control_plan"]

_BASE_FAMILIES = frozenset(
    "authentication access-control audit-logging encryption-in-transit encryption-at-rest input-validation "
    "rate-limiting secrets-management vulnerability-management secure-sdlc monitoring backup-recovery "
    "incident-response".split()
)
_CONDITIONAL = {"tenant-isolation": "multitenant", "device-identity": "iot", "model-governance": "ml"}
#: component key → the STRIDE categories most relevant to it, most important first
_COMPONENT_STRIDE = {
    "client": ("information-disclosure", "tampering"),
    "gateway": ("denial-of-service", "spoofing"),
    "identity": ("spoofing", "elevation-of-privilege"),
    "core": ("elevation-of-privilege", "tampering"),
    "sync": ("tampering", "repudiation"),
    "ingest": ("spoofing", "denial-of-service"),
    "realtime": ("denial-of-service", "information-disclosure"),
    "alerts": ("spoofing", "information-disclosure"),
    "ml": ("tampering", "information-disclosure"),
    "registry": ("tampering", "repudiation"),
    "integration": ("tampering", "spoofing"),
    "history": ("information-disclosure", "denial-of-service"),
    "tenancy": ("information-disclosure", "elevation-of-privilege"),
    "audit": ("repudiation", "tampering"),
    "billing": ("tampering", "spoofing"),
    "datastore": ("information-disclosure", "tampering"),
}
_STRIDE_TITLE = {
    "spoofing": "Impersonation of a legitimate {who} at {comp}",
    "tampering": "Unauthorised modification of data handled by {comp}",
    "repudiation": "Actions in {comp} cannot be attributed to their author",
    "information-disclosure": "{data} exposed through {comp}",
    "denial-of-service": "{comp} exhausted by floods or oversized requests",
    "elevation-of-privilege": "A user gains another role's rights in {comp}",
}
_SEVERITY = {
    "spoofing": "high",
    "tampering": "medium",
    "repudiation": "medium",
    "information-disclosure": "high",
    "denial-of-service": "medium",
    "elevation-of-privilege": "high",
}


def control_plan(a: Analysis) -> dict[str, str]:
    """Control family → CTL id for the idea, numbered in the catalogue's family order."""
    needed = set(_BASE_FAMILIES) | {f for f, s in _CONDITIONAL.items() if a.has(s)}
    for regime in a.compliance:
        for _, families in REGIMES.get(regime, ()):
            needed.update(families)
    return {f: seq("CTL", i) for i, f in enumerate((f for f in CONTROL_FAMILIES if f in needed), 1)}


def _data_name(a: Analysis) -> str:
    return (
        "Protected health information"
        if a.has("health")
        else "Tenant data"
        if a.has("multitenant")
        else "Personal data"
    )


@generator("threat-model")
def threat_model(ctx: Ctx) -> JSON:
    a = ctx.a
    plan = control_plan(a)
    threats: list[JSON] = []
    for c in ctx.items("architecture", "components"):
        key = component_key_of(str(c.get("name")), a)
        for stride in _COMPONENT_STRIDE.get(key, ("tampering", "information-disclosure")):
            severity = _SEVERITY[stride]
            if (
                stride in ("information-disclosure", "tampering")
                and (a.has("health") or a.has("payments"))
                and key in ("datastore", "tenancy", "ml", "core", "integration")
            ):
                severity = "critical"
            families = list(STRIDE_FAMILIES[stride])
            families += {
                "ingest": ["device-identity"],
                "tenancy": ["tenant-isolation"],
                "ml": ["model-governance"],
                "registry": ["model-governance"],
            }.get(key, [])
            tid = seq("THR", len(threats) + 1)
            if tid in ctx.flagged:
                families.append("monitoring")
            threats.append(
                {
                    "id": tid,
                    "stride": stride,
                    "component_id": str(c.get("id")),
                    "severity": severity,
                    "title": clip(
                        _STRIDE_TITLE[stride].format(
                            comp=c.get("name"), who=a.primary_user.rstrip("s"), data=_data_name(a)
                        ),
                        160,
                    ),
                    "description": clip(
                        f"{stride.replace('-', ' ').capitalize()} against {c.get('name')}: "
                        f"{c.get('responsibility')}",
                        500,
                    ),
                    "control_ids": sorted({plan[f] for f in families if f in plan}),
                }
            )
    threats = threats[: a.size(12, 20, 30)]
    assets = [str(c.get("name")) for c in ctx.items("data-model", "entities")][:19]
    return {
        "method": "STRIDE per component",
        "assets": assets + ["Credentials and tokens"],
        "threats": threats,
    }


def _control(cid: str, family: str, refs: list[str]) -> JSON:
    title, kind, desc = CONTROL_FAMILIES[family]
    return {
        "id": cid,
        "title": title,
        "family": family,
        "kind": kind,
        "description": desc,
        "threat_ids": [],
        "framework_refs": refs,
    }


@generator("security-controls")
def security_controls(ctx: Ctx) -> JSON:
    a = ctx.a
    plan = control_plan(a)
    threats = ctx.items("threat-model", "threats")
    refs = {
        f: [f"{r} {req.split(' ')[0]}" for r in a.compliance for req, fams in REGIMES.get(r, ()) if f in fams]
        for f in plan
    }
    controls = {cid: _control(cid, family, refs[family][:12]) for family, cid in plan.items()}
    for t in threats:
        for cid in t.get("control_ids", []):
            if cid not in controls:  # a threat model from elsewhere: define what it references
                family = STRIDE_FAMILIES.get(str(t.get("stride")), ("access-control",))[0]
                controls[cid] = _control(cid, family, [])
            controls[cid]["threat_ids"].append(str(t.get("id")))
    return {"controls": [controls[k] for k in sorted(controls)][:60]}


def _by_family(controls: list[Mapping[str, Any]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for c in controls:
        out.setdefault(str(c.get("family")), []).append(str(c.get("id")))
    return out


@generator("privacy-assessment")
def privacy_assessment(ctx: Ctx) -> JSON:
    a = ctx.a
    controls = ctx.items("security-controls", "controls")
    fam = _by_family(controls)
    fallback = [str(controls[0].get("id"))] if controls else []
    regimes = [str(r) for r in ctx.upstream("idea-spec").get("constraints", {}).get("compliance", [])]
    rows = []
    for regime in regimes:
        for req, families in REGIMES.get(
            regime, ((f"{regime} obligations", ("access-control", "audit-logging")),)
        ):
            ids = sorted({i for f in families for i in fam.get(f, [])}) or fallback
            rows.append({"regime": regime, "requirement": clip(req, 200), "control_ids": ids[:10]})
    categories = []
    for e in ctx.items("data-model", "entities"):
        pii = [str(f.get("name")) for f in e.get("fields", []) if isinstance(f, Mapping) and f.get("pii")]
        if pii:
            special = a.has("health") and e.get("name") in ("Patient", "Study", "Finding", "Report")
            categories.append(
                {
                    "name": clip(f"{e.get('name')}: {', '.join(pii)}", 80),
                    "pii": True,
                    "sensitivity": "special" if special else "medium",
                    "retention": "6 years after last use" if special else "Until account deletion + 30 days",
                    "lawful_basis": "Provision of care (Art. 9(2)(h))" if special else "Contract",
                }
            )
    categories.append(
        {
            "name": "Product usage analytics",
            "pii": False,
            "sensitivity": "low",
            "retention": "13 months",
            "lawful_basis": "Legitimate interest, pseudonymised",
        }
    )
    return {
        "summary": clip(
            f"{len(categories)} data categories; {len(rows)} obligations of "
            f"{human_list(regimes) or 'no named regime'} mapped to controls.",
            600,
        ),
        "dpia_required": a.has("health") or a.has("eu") or a.has("ml"),
        "data_categories": categories[:20],
        "compliance_map": rows[:60],
    }


@generator("supply-chain-policy")
def supply_chain_policy(ctx: Ctx) -> JSON:
    a = ctx.a
    return {
        "sbom": {
            "format": "cyclonedx",
            "generated_at": "Every build, attached to the release",
            "retention": "For the supported life of each release"
            + (" (FDA premarket evidence)" if "FDA 510(k)" in a.compliance else ""),
        },
        "signing": {
            "tool": "Sigstore cosign (keyless, OIDC identity of the CI workflow)",
            "artifacts": ["container images", "SBOMs", "release archives"]
            + (["mobile app bundles"] if a.has("mobile") else []),
            "verification": "Admission policy rejects unsigned images; releases verified before promotion",
        },
        "dependency_policy": {
            "pinning": "Lock files with hashes; renovate pull requests for updates",
            "update_cadence": "Weekly for patches, monthly for minors",
            "allowed_licenses": ["MIT", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "ISC", "MPL-2.0"],
            "vulnerability_sla_days": {
                "critical": (7, 3, 2)[a.level],
                "high": (30, 14, 7)[a.level],
                "medium": 90,
            },
        },
    }
