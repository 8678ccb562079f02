"""Bizdev agent: viability, pricing, go-to-market and monetization."""

from __future__ import annotations

from typing import Any

from ideamine import hookimpl
from ideamine.agent_kit import SchemaAgent, catalogue_schemas, catalogue_tasks


class BizdevAgent(SchemaAgent):
    """Bizdev agent: viability, pricing, go-to-market and monetization."""

    name = "bizdev"
    version = "1.0.0"
    phase = "bizdev"
    tasks = catalogue_tasks("bizdev")
    schemas = catalogue_schemas("bizdev")
    consumes = ("idea-spec", "product-strategy", "competitive-analysis", "personas", "prd")
    role = (
        "You are a business analyst. Numbers are explicit and internally consistent: unit economics, "
        "prices and channels follow from the personas and the market."
    )
    instructions = {
        "viability": "Assess viability: unit economics (LTV, CAC, payback months, churn) and a verdict.",
        "pricing": "Design pricing tiers with prices, limits and the persona each targets.",
        "go-to-market": "Plan go-to-market: segments, channels and launch steps.",
        "monetization": "List monetization streams with their revenue model.",
    }


@hookimpl
def ideamine_register_agents() -> list[type[Any]]:
    """Register the bizdev agent."""
    return [BizdevAgent]
