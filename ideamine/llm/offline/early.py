"""Generators of the early phases: intake, ideation and critique."""

from __future__ import annotations

from ideamine.llm.offline.analysis import Analysis
from ideamine.llm.offline.catalog import COMPETITORS, status_quo
from ideamine.llm.offline.ctx import JSON, Ctx, seq
from ideamine.llm.offline.registry import generator
from ideamine.llm.offline.text import cap, clip, human_list, words

_PILLARS = {
    "offline": ("Works anywhere", "Every core action works without a connection and syncs safely later."),
    "mobile": ("Mobile-first speed", "The most frequent actions take a few taps on a phone."),
    "ml": ("Trustworthy AI", "Every automated result shows its confidence, evidence and model version."),
    "compliance": (
        "Compliance by design",
        "Controls and evidence for {regimes} are built in, not bolted on.",
    ),
    "realtime": ("Live by default", "What users see reflects the world within seconds."),
    "multitenant": ("Enterprise-ready tenancy", "Strict isolation, per-tenant administration and SSO."),
    "iot": ("Device-scale ingestion", "Thousands of devices report reliably without tuning."),
    "health": ("Clinically safe", "Workflows fit clinical practice and never hide uncertainty."),
    "alerts": ("Never miss what matters", "Timely, configurable notifications without noise."),
    "history": ("Memory and insight", "Past records are searchable and turn into trends."),
    "consumer": ("Delightfully simple", "No manual needed; sensible defaults everywhere."),
}
_FIRST = "Ada Amara Bea Carlos Chen Dana Elif Femi Grace Hana Ines Jonas Kai Lena Malik Maya Noor Omar Priya Rafael Sofia Tomas Yara Zoe".split()
_LAST = "Adeyemi Bauer Costa Dubois Eriksen Fischer Garcia Haddad Ito Jansen Kowalski Larsen Mendes Nakamura Okafor Patel Rossi Schmidt Tanaka Varga Weber Yilmaz".split()


@generator("idea-classification")
def idea_classification(ctx: Ctx) -> JSON:
    a = ctx.a
    return {
        "category": a.category,
        "complexity": a.complexity,
        "compliance_detected": list(a.detected_compliance),
        "domain_signals": sorted(a.signals),
        "rationale": clip(
            f"{len(a.features)} capabilities, signals {human_list(sorted(a.signals)) or 'none'}, "
            f"{len(a.compliance)} compliance regime(s), budget ${a.budget_usd:,.0f} over {a.timeline}: "
            f"classified as {a.category} with {a.complexity} complexity.",
            1000,
        ),
    }


def _use_cases(a: Analysis) -> list[JSON]:
    chosen = list(a.features[: a.size(6, 9, 12)])
    cases = [{"title": clip(f.title, 160), "description": clip(f.text, 500)} for f in chosen]
    for title in (
        "Sign up and sign in",
        "Configure notifications and preferences",
        "Get help and give feedback",
    ):
        if len(cases) >= 3:
            break
        cases.append(
            {"title": title, "description": f"The system shall let {a.primary_user} {title.lower()}."}
        )
    return [{"id": seq("UC", i, 2), **c} for i, c in enumerate(cases, 1)]


@generator("idea-spec")
def idea_spec(ctx: Ctx) -> JSON:
    a = ctx.a
    first = a.features[0].title.lower() if a.features else f"manage their {a.noun}s"
    problem = (
        f"Today {a.target_users[0]} rely on {status_quo(a.category)} "
        f"to {first}; it is slow, error-prone and hard to keep consistent"
        + (f", and meeting {human_list(a.compliance)} on top is costly." if a.compliance else ".")
    )
    criteria = [
        f"{max(50, a.scale.users // 10):,} weekly active {a.primary_user} within 3 months of launch",
        f"80 % of {a.primary_user} complete '{clip(first, 80)}' unaided in usability tests",
        f"Availability of {a.scale.availability:g} % measured monthly",
    ] + [f"{r} requirements evidenced before launch" for r in a.compliance[:3]]
    return {
        "title": clip(a.title, 120),
        "summary": clip(a.summary, 1000),
        "problem": clip(problem, 1000),
        "target_users": list(a.target_users)[:10],
        "success_criteria": criteria[:10],
        "use_cases": _use_cases(a),
        "constraints": {
            "budget_usd": a.budget_usd,
            "timeline": a.timeline,
            "compliance": list(a.compliance),
            "tech_preferences": list(a.tech_preferences),
            "target_users": list(a.target_users)[:10],
        },
        "category": a.category,
        "complexity": a.complexity,
        "out_of_scope": ["Custom hardware", "White-label resale in the first release"]
        + (["Native desktop applications"] if a.has("mobile") else ["Native mobile applications"]),
    }


@generator("intake-report")
def intake_report(ctx: Ctx) -> JSON:
    a = ctx.a
    constraints = ctx.idea.get("constraints") or {}
    given = {
        "title": 1.0 if ctx.idea.get("title") else 0.5,
        "problem and summary": 1.0 if len(a.text) >= 80 else 0.5,
        "use cases": 1.0 if len(a.features) >= 3 else 0.5,
        "target_users": 1.0 if constraints.get("target_users") else 0.75,
        "budget_usd": 1.0 if constraints.get("budget_usd") else 0.5,
        "timeline": 1.0 if constraints.get("timeline") else 0.5,
        "compliance": 1.0,
        "tech_preferences": 1.0 if constraints.get("tech_preferences") else 0.75,
    }
    issues = [
        {
            "field": f,
            "severity": "low" if v >= 0.75 else "medium",
            "message": f"{f} was not stated; a default was applied",
        }
        for f, v in given.items()
        if v < 1
    ]
    return {
        "completeness": round(sum(given.values()) / len(given), 3),
        "issues": issues,
        "applied_defaults": [
            {"field": f, "value": clip(v, 200), "reason": r} for f, v, r in a.defaults_applied
        ],
        "summary": clip(f"{len(a.features)} capabilities extracted; {len(issues)} field(s) defaulted.", 600),
    }


def _pillars(a: Analysis) -> list[tuple[str, str]]:
    keys = [k for k in _PILLARS if a.has(k)] or ["consumer"]
    return [
        (n, d.format(regimes=human_list(a.compliance)))
        for n, d in (_PILLARS[k] for k in keys[: a.size(3, 4, 5)])
    ]


@generator("product-strategy")
def product_strategy(ctx: Ctx) -> JSON:
    a = ctx.a
    pillars = _pillars(a)
    if len(pillars) < 2:
        pillars.append(("Fast to value", f"New {a.primary_user} get value in their first session."))
    headline = a.features[0].title.lower() if a.features else f"work with {a.noun}s"
    return {
        "vision": clip(f"{a.title} is the simplest trustworthy way for {a.primary_user} to {headline}.", 600),
        "positioning": clip(
            f"For {human_list(a.target_users[:2])} who outgrew "
            f"{status_quo(a.category)}: {human_list([p[0].lower() for p in pillars])}.",
            600,
        ),
        "pillars": [{"name": n, "description": d} for n, d in pillars],
        "differentiators": [clip(f"{n}: {d}", 300) for n, d in pillars][:8],
        "success_metrics": [
            {
                "name": "Weekly active users",
                "target": f"{max(50, a.scale.users // 10):,}",
                "horizon": "3 months",
            },
            {
                "name": "Activation rate",
                "target": "≥ 40 % complete a core action on day 1",
                "horizon": "launch",
            },
            {"name": "Retention (week 4)", "target": "≥ 30 %", "horizon": "6 months"},
        ],
    }


@generator("competitive-analysis")
def competitive_analysis(ctx: Ctx) -> JSON:
    a, rng = ctx.a, ctx.rng()
    names = list(COMPETITORS.get(a.category, COMPETITORS["other"]))
    rng.shuffle(names)
    gaps = [d for n, d in _pillars(a)]
    competitors: list[JSON] = [
        {
            "name": n,
            "kind": "direct",
            "strengths": [
                "Established brand and user base",
                rng.choice(["Broad feature set", "Large integration ecosystem", "Strong distribution"]),
            ],
            "weaknesses": [
                clip(f"Falls short on: {gaps[i % len(gaps)].rstrip('.').lower()}", 200),
                "Generic workflows not tuned to this audience",
            ],
        }
        for i, n in enumerate(names[: a.size(3, 4, 4)])
    ]
    competitors.append(
        {
            "name": "Status quo",
            "kind": "status-quo",
            "strengths": ["Free and familiar"],
            "weaknesses": [clip(f"{cap(status_quo(a.category))} do not scale", 200)],
        }
    )
    return {
        "competitors": competitors,
        "opportunities": [clip(f"Own '{f.title.lower()}' for {a.primary_user}", 300) for f in a.features[:4]]
        or ["Underserved niche"],
        "threats": ["Incumbents copy the headline feature", "Price pressure from bundled suites"]
        + ([f"Changing {human_list(a.compliance)} guidance"] if a.compliance else []),
    }


@generator("tech-stack")
def tech_stack(ctx: Ctx) -> JSON:
    a = ctx.a
    prefs = " ".join(a.tech_preferences).lower()
    front = (
        "React Native (Expo) with TypeScript"
        if "react native" in prefs or a.has("mobile")
        else "React + TypeScript (Vite)"
    )
    back = (
        "Go 1.22"
        if "go" in prefs.split()
        else "Node.js (NestJS)"
        if "node" in prefs
        else "Python 3.12 with FastAPI"
    )
    if a.has("ml"):
        back += "; PyTorch models served by NVIDIA Triton"
    data = (
        ["PostgreSQL 16"]
        + (["TimescaleDB for time series"] if a.has("iot") else [])
        + (["SQLite on device"] if a.has("offline") else [])
        + (["S3 object storage for images"] if a.has("health") else [])
        + (["Redis for pub/sub"] if a.has("realtime") else [])
    )
    cloud = "AWS" if "aws" in prefs or a.level else "a managed PaaS"
    infra = (
        f"{cloud} with Kubernetes (EKS)"
        if "kubernetes" in prefs or a.level == 2
        else f"{cloud} (containers on a managed runtime)"
    )
    return {
        "frontend": front,
        "backend": back,
        "data": human_list(data),
        "infra": infra,
        "rationale": clip(
            f"Chosen for a {a.complexity}-complexity {a.category} product on a ${a.budget_usd:,.0f} budget"
            + (f", honouring the preferences {human_list(a.tech_preferences)}" if a.tech_preferences else "")
            + "; every choice is mainstream, hireable and well supported.",
            1200,
        ),
        "alternatives": [
            {
                "area": "backend",
                "option": "Serverless functions",
                "reason_rejected": "Cold starts and harder local testing.",
            },
            {
                "area": "data",
                "option": "MongoDB",
                "reason_rejected": "Relational integrity matters for the core records.",
            },
        ],
    }


def _overlap(role: str, actor: str) -> bool:
    return bool(words(role) & words(actor))


@generator("personas")
def personas(ctx: Ctx) -> JSON:
    a, rng = ctx.a, ctx.rng()
    roles = list(a.target_users)
    for actor in a.actors:
        if actor != "users" and not any(_overlap(r, actor) for r in roles):
            roles.append(actor)
    roles += ["occasional user", "power user", "administrator"]
    roles = roles[: a.size(3, 4, 5)]
    cases = ctx.items("idea-spec", "use_cases")
    assigned: dict[int, list[dict[str, str]]] = {i: [] for i in range(len(roles))}
    for n, uc in enumerate(cases):
        text = f"{uc.get('title')} {uc.get('description')}"
        hits = [i for i, r in enumerate(roles) if _overlap(r, text)]
        wanted = str(uc.get("id")) in ctx.flagged
        for i in (hits or [n % len(roles)]) + (list(range(len(roles))) if wanted else []):
            if all(x["use_case_id"] != uc.get("id") for x in assigned[i]):
                assigned[i].append(
                    {
                        "use_case_id": str(uc.get("id")),
                        "scenario": clip(f"{cap(roles[i])}: {uc.get('title')}", 400),
                    }
                )
    first, last = list(_FIRST), list(_LAST)
    rng.shuffle(first)
    rng.shuffle(last)
    out = []
    for i, role in enumerate(roles):
        mine = assigned[i] or [
            {
                "use_case_id": str(cases[i % len(cases)].get("id")),
                "scenario": clip(f"{cap(role)}: {cases[i % len(cases)].get('title')}", 400),
            }
        ]
        out.append(
            {
                "name": f"{first[i]} {last[i]}",
                "role": clip(cap(role), 120),
                "summary": clip(f"{cap(role)}: needs {a.title} to fit into an already busy day.", 400),
                "goals": [clip(x["scenario"].split(": ", 1)[-1], 200) for x in mine[:3]],
                "pains": [
                    clip(f"Today relies on {status_quo(a.category)}", 200),
                    rng.choice(
                        [
                            "Too many tools to switch between",
                            "No single source of truth",
                            "Hard to see what needs attention first",
                        ]
                    ),
                ],
                "use_cases": mine[:12],
            }
        )
    return {"personas": out}
