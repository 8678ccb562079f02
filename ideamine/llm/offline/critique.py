"""Generators of the critique phase: risk register, red-team critique and counterfactuals."""

from __future__ import annotations

from ideamine.llm.offline.analysis import Analysis
from ideamine.llm.offline.catalog import status_quo
from ideamine.llm.offline.ctx import JSON, Ctx, seq
from ideamine.llm.offline.registry import generator
from ideamine.llm.offline.text import cap, clip, human_list

_RISKS = (
    (
        "technical",
        "core",
        "Core {noun} workflows are harder to build than estimated",
        0.35,
        3,
        "Spike the riskiest flow in week 1; cut scope by priority, never by quality.",
    ),
    (
        "market",
        "",
        "Users stay with {status_quo}",
        0.4,
        4,
        "Validate with 10 target users before build; measure activation weekly.",
    ),
    (
        "financial",
        "",
        "Budget of ${budget:,.0f} does not cover the planned scope",
        0.3,
        3,
        "Fund must-have requirements first; track burn against the budget every sprint.",
    ),
    (
        "schedule",
        "",
        "The {timeline} timeline slips",
        0.35,
        3,
        "Fixed-scope milestones with a demo every two weeks; buffer of 15 %.",
    ),
    (
        "security",
        "",
        "A breach exposes users' data",
        0.15,
        5,
        "Threat model per feature, encryption, least privilege, incident runbook.",
    ),
    (
        "technical",
        "offline",
        "Sync conflicts lose or duplicate edits",
        0.3,
        4,
        "Deterministic conflict resolution with per-field merge and conflict tests.",
    ),
    (
        "technical",
        "iot",
        "Ingestion cannot keep up with device bursts",
        0.3,
        4,
        "Buffer in a durable queue; load-test at 3x the stated device rate.",
    ),
    (
        "technical",
        "ml",
        "Model accuracy degrades on data from new sites",
        0.35,
        5,
        "Per-site validation before go-live; drift monitoring; human review of every result.",
    ),
    (
        "regulatory",
        "compliance",
        "{regimes} obligations delay launch",
        0.35,
        4,
        "Map each obligation to a control early; engage an auditor before the beta.",
    ),
    (
        "legal",
        "health",
        "Liability for a missed or wrong automated finding",
        0.2,
        5,
        "Decision support only: a clinician signs every report; clear intended-use labelling.",
    ),
    (
        "operational",
        "multitenant",
        "A tenant's data becomes visible to another tenant",
        0.1,
        5,
        "Row-level security, tenant id in every key, isolation tests in CI.",
    ),
    (
        "operational",
        "realtime",
        "Live updates overload clients or servers at peak",
        0.25,
        3,
        "Throttle pushes, aggregate server-side, degrade to polling.",
    ),
    (
        "people",
        "",
        "Key knowledge concentrates in one engineer",
        0.3,
        2,
        "Pairing, written ADRs and runbooks; two reviewers on critical code.",
    ),
)


def _fmt(template: str, a: Analysis) -> str:
    return template.format(
        noun=a.noun,
        status_quo=status_quo(a.category),
        budget=a.budget_usd,
        timeline=a.timeline,
        regimes=human_list(a.compliance) or "Regulatory",
    )


def risk_list(a: Analysis) -> list[JSON]:
    """The risks of the idea in register order (shared by the risk register and the critique)."""
    chosen = [r for r in _RISKS if not r[1] or a.has(r[1])][: a.size(6, 8, 12)]
    return [
        {
            "id": seq("RSK", i),
            "title": clip(_fmt(title, a), 160),
            "category": cat,
            "probability": p,
            "impact": imp,
            "score": round(p * imp * 20, 1),
            "mitigation": clip(_fmt(mit, a), 600),
            "owner": {
                "technical": "Tech lead",
                "regulatory": "Compliance lead",
                "legal": "Legal counsel",
            }.get(cat, "Product lead"),
        }
        for i, (cat, _, title, p, imp, mit) in enumerate(chosen, 1)
    ]


@generator("risk-register")
def risk_register(ctx: Ctx) -> JSON:
    return {"risks": risk_list(ctx.a)}


@generator("critique-report")
def critique_report(ctx: Ctx) -> JSON:
    a = ctx.a
    risks = ctx.items("risk-register", "risks")
    findings = []
    for i, r in enumerate(sorted(risks, key=lambda r: -float(r.get("score", 0)))[: a.size(4, 6, 8)], 1):
        severity = (
            "critical"
            if float(r.get("score", 0)) >= 35
            else "high"
            if float(r.get("score", 0)) >= 25
            else "medium"
        )
        findings.append(
            {
                "id": seq("CRT", i),
                "severity": severity,
                "area": str(r.get("category")),
                "finding": clip(
                    f"{r.get('title')} (probability {r.get('probability')}, impact {r.get('impact')}).", 600
                ),
                "recommendation": clip(str(r.get("mitigation")), 600),
                "resolved_by": str(r.get("id")) if severity in ("critical", "high") else None,
            }
        )
    return {
        "summary": clip(
            f"{len(findings)} findings; every critical and high one is owned by a mitigated risk.", 800
        ),
        "findings": findings,
    }


@generator("counterfactuals")
def counterfactuals(ctx: Ctx) -> JSON:
    a = ctx.a
    items = [
        (
            f"{cap(a.primary_user)} will switch from {status_quo(a.category)}",
            "Most keep the old habit",
            "Slow activation and churn",
            "Day-7 retention under 20 %",
        ),
        (
            f"Customers pay for {a.title}",
            "They expect it free or bundled",
            "Revenue targets missed",
            "Trial-to-paid under 2 %",
        ),
        (
            f"The team can ship the must-haves within {a.timeline}",
            "Core flows take twice as long",
            "Launch slips",
            "Sprint velocity below plan two sprints running",
        ),
        (
            "One acquisition channel works",
            "No channel reaches the audience at acceptable cost",
            "CAC above LTV/3",
            "Cost per signup rising week over week",
        ),
        (
            f"The architecture handles {a.scale.users:,} users",
            "Load grows faster than planned",
            "Outages at peak",
            "p95 latency trending above target",
        ),
    ]
    if a.compliance:
        items.append(
            (
                f"{human_list(a.compliance)} can be met with standard controls",
                "An auditor requires bespoke evidence",
                "Certification delays launch",
                "Open audit findings after the readiness review",
            )
        )
    if a.has("ml"):
        items.append(
            (
                "The model generalises across sites",
                "Accuracy drops on new scanners",
                "Unsafe or useless results",
                "Per-site sensitivity below the validated range",
            )
        )
    return {
        "items": [
            {
                "id": seq("ASM", i),
                "assumption": clip(x, 300),
                "scenario": f"{y}.",
                "consequence": f"{z}.",
                "signal": w,
            }
            for i, (x, y, z, w) in enumerate(items[: a.size(5, 6, 8)], 1)
        ]
    }
