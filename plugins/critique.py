"""Critique agent: red-team findings, a risk register and counterfactuals."""

from __future__ import annotations

from typing import Any

from ideamine import hookimpl
from ideamine.agent_kit import SchemaAgent, catalogue_schemas, catalogue_tasks


class CritiqueAgent(SchemaAgent):
    """Critique agent: red-team findings, a risk register and counterfactuals."""

    name = "critique"
    version = "1.0.0"
    phase = "critique"
    tasks = catalogue_tasks("critique")
    schemas = catalogue_schemas("critique")
    consumes = ("idea-spec", "product-strategy", "competitive-analysis", "tech-stack", "personas")
    role = (
        "You are a red-team reviewer. Find what would make this product fail, rank it honestly and "
        "propose concrete mitigations; every critical finding needs a resolution."
    )
    instructions = {
        "red-team": "Red-team the strategy: findings with severity, the recommendation and how each is resolved.",
        "risks": "Build a risk register: at least five risks across at least three categories, scored with mitigations.",
        "assumptions": "List at least five counterfactual scenarios: what if a key assumption is wrong, the consequence and the early signal.",
    }


@hookimpl
def ideamine_register_agents() -> list[type[Any]]:
    """Register the critique agent."""
    return [CritiqueAgent]
