"""Generators of the prd and bizdev phases: requirements, stories, traceability, business model."""

from __future__ import annotations

from ideamine.llm.offline.analysis import Analysis
from ideamine.llm.offline.ctx import JSON, Ctx, seq
from ideamine.llm.offline.engineering import component_keys, components
from ideamine.llm.offline.registry import generator
from ideamine.llm.offline.text import cap, clip, human_list, words

__all__ = ["price_plan", "singular_role"]

#: (signal, words that show the idea already covers it, priority, title, text)
_TEMPLATES = (
    (
        "",
        "sign login account",
        "must",
        "Sign up and sign in securely",
        "The system shall let {user} sign up and sign in securely{sso}.",
    ),
    (
        "multitenant",
        "tenant isolat",
        "must",
        "Isolate each tenant's data",
        "The system shall isolate each tenant's data, configuration and users from every other tenant.",
    ),
    (
        "compliance",
        "audit",
        "must",
        "Audit access to sensitive records",
        "The system shall keep a tamper-evident audit trail of every access to and change of sensitive records.",
    ),
    (
        "eu",
        "erasure",
        "must",
        "Export and delete personal data",
        "The system shall let {user} export and delete their personal data on request.",
    ),
    (
        "ml",
        "version",
        "must",
        "Record the model version per result",
        "The system shall record the model version and confidence behind every automated result.",
    ),
    (
        "iot",
        "silent",
        "should",
        "Flag silent devices",
        "The system shall flag devices that stop reporting within two reporting intervals.",
    ),
    (
        "offline",
        "offline",
        "must",
        "Work offline",
        "The system shall keep every core action available offline and queue changes for sync.",
    ),
    (
        "alerts",
        "notif remind alert",
        "should",
        "Notify about what needs attention",
        "The system shall notify {user} about items that need their attention, honouring per-user preferences.",
    ),
    (
        "history",
        "search",
        "should",
        "Search past records",
        "The system shall let {user} search and filter past {noun}s.",
    ),
    (
        "",
        "accessib keyboard",
        "should",
        "Accessible interface",
        "The system shall let {user} complete every flow with a keyboard or a screen reader.",
    ),
    (
        "integration",
        "webhook",
        "could",
        "Integrate through an API",
        "The system shall expose a documented API and webhooks for integrations.",
    ),
    (
        "",
        "onboard",
        "could",
        "Guided onboarding",
        "The system shall guide first-time {user} through a short onboarding.",
    ),
    ("", "csv", "could", "Export data", "The system shall let {user} export their {noun}s as CSV."),
    (
        "",
        "preference appearance",
        "could",
        "Personal preferences",
        "The system shall let {user} set language, time zone and appearance preferences.",
    ),
    (
        "",
        "help",
        "could",
        "In-app help",
        "The system shall offer contextual help and a way to contact support.",
    ),
)
_PRICES: dict[str, tuple[str, tuple[tuple[str, float, str], ...], float, float]] = {
    # category: (model, tiers (name, monthly price, unit), monthly churn, gross margin)
    "productivity": (
        "freemium",
        (("Free", 0, "user"), ("Plus", 4, "user"), ("Family", 8, "household")),
        0.05,
        0.85,
    ),
    "iot": (
        "per-device",
        (
            ("Starter", 149, "tenant, up to 50 sensors"),
            ("Growth", 599, "tenant, up to 500 sensors"),
            ("Enterprise", 1999, "tenant, unlimited sensors"),
        ),
        0.02,
        0.75,
    ),
    "healthcare": (
        "enterprise",
        (
            ("Clinic", 2500, "institution"),
            ("Hospital", 7500, "institution"),
            ("Health system", 20000, "institution"),
        ),
        0.01,
        0.7,
    ),
    "enterprise": (
        "tiered",
        (("Team", 99, "team"), ("Business", 399, "organisation"), ("Enterprise", 1500, "organisation")),
        0.015,
        0.8,
    ),
    "other": ("tiered", (("Starter", 12, "user"), ("Pro", 29, "user"), ("Business", 79, "user")), 0.03, 0.8),
}


def price_plan(a: Analysis) -> tuple[str, tuple[tuple[str, float, str], ...], float, float]:
    """Pricing model, tiers, churn and margin of the idea's category (pricing and business model agree)."""
    return _PRICES.get(a.category, _PRICES["productivity" if a.category == "consumer" else "other"])


def singular_role(role: str) -> str:
    """``"Referring clinicians" → "referring clinician"`` (first plural word made singular)."""
    out, done = [], False
    for w in role.lower().split():
        if not done and w.endswith("s") and not w.endswith("ss"):
            w, done = w[:-1], True
        out.append(w)
    return " ".join(out)


def _requirements(a: Analysis) -> list[JSON]:
    target = a.size(8, 12, 18)
    feats = list(a.features[: a.size(7, 10, 14)])
    n_must = max(3, round(len(feats) * 0.6))
    reqs = [
        {
            "title": clip(f.title, 120),
            "text": clip(f.text, 500),
            "priority": "must" if i < n_must or {"must", "never"} & words(f.text) else "should",
            "source": f"idea sentence {f.sentence + 1}",
        }
        for i, f in enumerate(feats)
    ]
    covered = " ".join(f.text.lower() for f in feats)
    sso = " (with single sign-on for organisations)" if a.has("multitenant") else ""
    for signal, cues, prio, title, text in _TEMPLATES:
        if len(reqs) >= target and prio == "could":
            break
        if (signal and not a.has(signal)) or any(c in covered for c in cues.split()):
            continue
        reqs.append(
            {
                "title": title,
                "text": text.format(user=a.primary_user, noun=a.noun, sso=sso),
                "priority": prio,
                "source": f"signal: {signal}" if signal else "product baseline",
            }
        )
    return [{"id": seq("FR", i), **r} for i, r in enumerate(reqs[: max(target, len(feats) + 4)], 1)]


def _nfrs(a: Analysis) -> list[JSON]:
    s = a.scale
    rps = max(10, round(s.users * 0.02))
    items = [
        (
            "performance",
            f"p95 API latency <= {(300, 250, 200)[a.level]} ms at {rps} requests/s",
            "Core flows feel instant.",
        )
    ]
    if a.has("iot") and s.devices:
        msgs = max(1, round(s.devices * 50 / max(s.interval_s, 1)))
        items.append(
            (
                "performance",
                f"Ingest {msgs} readings/s (p95 <= 2000 ms from device to chart)",
                "Live charts must be live.",
            )
        )
    if a.has("ml"):
        items.append(
            (
                "performance",
                f"p95 analysis time <= 60000 ms per study at {max(1, s.daily_volume // 8640)} requests/s",
                "Results must arrive before the read.",
            )
        )
    items += [
        (
            "availability",
            f"{s.availability:g} % monthly availability",
            "Stated by the idea or typical for its size.",
        ),
        (
            "security",
            "TLS 1.2+ in transit; AES-256 at rest; MFA for privileged roles",
            "Baseline protection of user data.",
        ),
        ("accessibility", "WCAG 2.2 AA for every user-facing screen", "Inclusive by default."),
    ]
    if a.compliance:
        items.append(
            (
                "compliance",
                f"Evidence for {human_list(a.compliance)} maintained continuously",
                "Required to sell.",
            )
        )
    if a.level:
        items.append(
            (
                "scalability",
                f"Scale to {s.users:,} users and {s.tenants:,} tenants without redesign",
                "Growth plan.",
            )
        )
    if a.has("offline"):
        items.append(
            (
                "reliability",
                "No edit made offline is ever lost; conflicts resolve deterministically",
                "Trust in sync.",
            )
        )
    return [
        {"id": seq("NFR", i), "category": c, "target": t, "rationale": r}
        for i, (c, t, r) in enumerate(items, 1)
    ]


@generator("prd")
def prd(ctx: Ctx) -> JSON:
    a = ctx.a
    reqs = _requirements(a)
    return {
        "summary": clip(f"{a.title}: {a.summary}", 1000),
        "requirements": reqs,
        "nfrs": _nfrs(a),
        "out_of_scope": list(ctx.upstream("idea-spec").get("out_of_scope", []))[:10],
    }


def _outcome(key: str) -> str:
    return {
        "sync": "the change is saved locally at once and synced within 30 s of reconnecting",
        "alerts": "a notification is delivered within 60 s",
        "ml": "the result shows its confidence score and model version",
        "realtime": "every open view updates within 5 s",
        "history": "matching records appear within 1 s",
        "audit": "an audit event records who did what and when",
        "tenancy": "only records of the user's own tenant are visible",
    }.get(key, "the change is saved and confirmed on screen")


def _acceptance(story: JSON, key: str, n: int, extra: bool, next_ac: int) -> list[JSON]:
    who, want = story["as_a"], story["i_want"].removeprefix("to ")
    acs = [
        ("a signed-in " + who, f"they {want}", _outcome(key)),
        (
            "invalid or incomplete input",
            "they submit it",
            "a clear message names the problem and nothing is saved",
        ),
        (
            "a user without permission for the record",
            f"they try to {want}",
            "access is denied and the attempt is audited",
        ),
    ][:n]
    if extra:
        acs.append(
            (
                "the connection drops in the middle of the action",
                "they retry",
                "the action completes exactly once",
            )
        )
    return [
        {"id": seq("AC", next_ac + i), "given": clip(g, 300), "when": clip(w, 300), "then": t}
        for i, (g, w, t) in enumerate(acs)
    ]


def _role_for(text: str, roles: list[str]) -> str:
    toks = words(text)
    return next((r for r in roles if words(r) & toks), roles[0] if roles else "user")


@generator("user-stories")
def user_stories(ctx: Ctx) -> JSON:
    a, rng = ctx.a, ctx.rng()
    roles = [str(p.get("role")) for p in ctx.items("personas", "personas")]
    names = {key: name for key, name, _, _ in components(a)}
    epics: dict[str, JSON] = {}
    stories: list[JSON] = []
    next_ac = 1
    for i, r in enumerate(ctx.items("prd", "requirements"), 1):
        text = f"{r.get('title')} {r.get('text')}"
        key = component_keys(text, a)[0]
        epic = epics.setdefault(
            key,
            {"id": seq("EP", len(epics) + 1, 2), "title": names.get(key, cap(key)), "requirement_ids": []},
        )
        epic["requirement_ids"].append(str(r.get("id")))
        sid = seq("ST", i)
        story: JSON = {
            "id": sid,
            "epic_id": epic["id"],
            "title": clip(str(r.get("title")), 160),
            "as_a": clip(singular_role(_role_for(text, roles)), 120),
            "i_want": clip("to " + str(r.get("title")).rstrip("…").lower(), 300),
            "so_that": rng.choice(
                [
                    "nothing falls through the cracks",
                    "I save time every day",
                    "I can trust what I see",
                    "I can act before it becomes a problem",
                ]
            ),
            "priority": str(r.get("priority", "should")),
            "points": rng.choice([2, 3, 5]) + (3 if key in ("ml", "sync", "ingest", "integration") else 0),
        }
        flagged = bool({sid, str(r.get("id"))} & ctx.flagged)
        story["acceptance"] = _acceptance(story, key, a.size(2, 2, 3), flagged, next_ac)
        story["requirement_ids"] = [str(r.get("id"))]
        next_ac += len(story["acceptance"])
        stories.append(story)
    return {"epics": list(epics.values())[:20], "stories": stories[:80]}


@generator("rtm")
def rtm(ctx: Ctx) -> JSON:
    stories = ctx.items("user-stories", "stories")
    prd_doc = ctx.upstream("prd")
    rows = []
    for r in list(prd_doc.get("requirements", [])) + list(prd_doc.get("nfrs", [])):
        rid = str(r.get("id"))
        mine = [s for s in stories if rid in s.get("requirement_ids", [])]
        rows.append(
            {
                "requirement_id": rid,
                "story_ids": [str(s.get("id")) for s in mine],
                "acceptance_ids": [str(c.get("id")) for s in mine for c in s.get("acceptance", [])],
            }
        )
    return {"rows": rows[:100]}


def _economics(a: Analysis, rng_value: float, rng_payback: float) -> dict[str, float]:
    _, tiers, churn, margin = price_plan(a)
    paid = [p for _, p, _ in tiers if p > 0]
    mix = (0.6, 0.3, 0.1)[: len(paid)]
    arpu = sum(p * w for p, w in zip(paid, mix, strict=False)) / sum(mix)
    ltv = arpu * margin / churn
    cac = min(ltv / rng_value, rng_payback * arpu * margin)
    return {
        "arpu_monthly": round(arpu, 2),
        "gross_margin": margin,
        "churn": churn,
        "ltv": round(ltv, 2),
        "cac": round(cac, 2),
        "payback_months": round(cac / (arpu * margin), 1),
    }


@generator("business-model")
def business_model(ctx: Ctx) -> JSON:
    a, rng = ctx.a, ctx.rng()
    ue = _economics(a, rng.uniform(3.4, 4.6), rng.uniform(5.0, 10.0))
    ratio = ue["ltv"] / ue["cac"]
    model, tiers, _, _ = price_plan(a)
    return {
        "revenue_model": f"{cap(model)} subscription priced per {tiers[-1][2].split(',')[0]}",
        "unit_economics": ue,
        "assumptions": [
            f"Monthly churn of {ue['churn']:.1%}",
            f"Gross margin of {ue['gross_margin']:.0%}",
            f"Blended paid ARPU of ${ue['arpu_monthly']:,.2f}/month",
        ],
        "verdict": "viable" if ratio >= 3 and ue["payback_months"] <= 12 else "viable-with-risks",
        "rationale": clip(
            f"LTV/CAC {ratio:.1f} with a {ue['payback_months']:g}-month payback on a "
            f"${a.budget_usd:,.0f} build budget.",
            800,
        ),
    }


@generator("pricing")
def pricing(ctx: Ctx) -> JSON:
    a = ctx.a
    model, tiers, _, _ = price_plan(a)
    feats = [str(r.get("title")) for r in ctx.items("prd", "requirements")]
    step = max(1, len(feats) // len(tiers))
    return {
        "currency": "USD",
        "model": model,
        "free_trial_days": 0 if model == "freemium" else (14, 30, 60)[a.level],
        "tiers": [
            {
                "name": n,
                "price_monthly": p,
                "unit": u,
                "target": clip(a.target_users[min(i, len(a.target_users) - 1)], 160),
                "features": [clip(f, 160) for f in feats[: step * (i + 1)]][:12] or ["Core features"],
            }
            for i, (n, p, u) in enumerate(tiers)
        ],
        "rationale": clip(
            f"{cap(model)} pricing matches how {a.primary_user} buy in the {a.category} market.", 800
        ),
    }


_CHANNELS = {
    "productivity": (
        ("App store optimisation", "organic"),
        ("Content and SEO", "content"),
        ("Referral programme", "referral"),
        ("Product Hunt launch", "community"),
    ),
    "iot": (
        ("Direct sales to facility managers", "direct-sales"),
        ("System integrator partners", "partnership"),
        ("Cloud marketplace listing", "marketplace"),
        ("Industry trade shows", "events"),
    ),
    "healthcare": (
        ("Enterprise sales to hospital networks", "direct-sales"),
        ("PACS and EHR vendor partnerships", "partnership"),
        ("Clinical conferences", "events"),
        ("Peer-reviewed validation studies", "content"),
    ),
}


@generator("gtm-plan")
def gtm_plan(ctx: Ctx) -> JSON:
    a = ctx.a
    channels = _CHANNELS.get(
        a.category,
        (("Content marketing", "content"), ("Paid search", "paid"), ("Partnerships", "partnership")),
    )
    weeks = a.timeline_weeks
    return {
        "positioning": clip(str(ctx.upstream("product-strategy").get("positioning", a.summary)), 600),
        "segments": [
            {
                "name": clip(cap(t), 80),
                "description": clip(f"{cap(t)} in the {a.category} market.", 300),
                "priority": i,
            }
            for i, t in enumerate(a.target_users[:5], 1)
        ],
        "channels": [
            {"name": n, "kind": k, "rationale": f"Reaches {a.target_users[0]} where they already look."}
            for n, k in channels[: a.size(2, 3, 4)]
        ],
        "launch_steps": [
            {"week": w, "step": s}
            for w, s in (
                (max(1, weeks // 2), "Private alpha with design partners"),
                (max(2, weeks * 3 // 4), "Closed beta"),
                (weeks, "Public launch"),
                (weeks + 4, "First pricing review"),
            )
        ],
    }


@generator("monetization")
def monetization(ctx: Ctx) -> JSON:
    a = ctx.a
    model, _, _, _ = price_plan(a)
    streams: list[tuple[str, str, float, str]] = [
        ("Subscriptions", "subscription", 0.85, f"{cap(model)} plans")
    ]
    if a.category in ("iot", "healthcare", "enterprise"):
        streams += [
            ("Onboarding and integration services", "services", 0.1, "Paid setup and integrations"),
            ("Usage overage", "usage", 0.05, "Above-plan volume"),
        ]
    else:
        streams += [("In-app upgrades", "in-app-purchase", 0.15, "One-off themes and add-ons")]
    return {
        "streams": [{"name": n, "kind": k, "share": s, "description": d} for n, k, s, d in streams],
        "rationale": "Recurring revenue first; services only where customers need integration help.",
    }
