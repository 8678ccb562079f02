"""Generators of the bizdev phase: business model, pricing, go-to-market and monetization.

Pricing and the business model derive from one price plan per category, so the unit
economics always agree with the published tiers.
"""

from __future__ import annotations

from ideamine.llm.offline.analysis import Analysis
from ideamine.llm.offline.ctx import JSON, Ctx
from ideamine.llm.offline.registry import generator
from ideamine.llm.offline.text import cap, clip

__all__ = ["price_plan"]

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
