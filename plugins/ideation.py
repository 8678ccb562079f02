"""Ideation agent: product strategy, competition, technology stack and personas, in parallel."""

from __future__ import annotations

from typing import Any

from ideamine import hookimpl
from ideamine.agent_kit import SchemaAgent, catalogue_schemas, catalogue_tasks


class IdeationAgent(SchemaAgent):
    """Ideation agent: product strategy, competition, technology stack and personas, in parallel."""

    name = "ideation"
    version = "1.0.0"
    phase = "ideation"
    tasks = catalogue_tasks("ideation")
    schemas = catalogue_schemas("ideation")
    consumes = ("idea-spec", "idea-classification")
    role = (
        "You are a product strategist. Ground every claim in the idea and its constraints; be specific "
        "about users, markets and technology rather than generic."
    )
    instructions = {
        "strategy": "Write the product strategy: vision, pillars, differentiators and measurable success metrics.",
        "competition": "Analyse at least three real or realistic competitors with strengths and weaknesses, plus opportunities and threats.",
        "tech-stack": "Recommend a technology stack (frontend, backend, data, infrastructure) with a rationale tied to the constraints.",
        "personas": "Describe 3 to 5 personas with goals, pains and the use cases they need.",
    }


@hookimpl
def ideamine_register_agents() -> list[type[Any]]:
    """Register the ideation agent."""
    return [IdeationAgent]
