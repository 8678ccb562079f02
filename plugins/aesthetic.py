"""Aesthetic agent: UX audit, accessibility report and design system."""

from __future__ import annotations

from typing import Any

from ideamine import hookimpl
from ideamine.agent_kit import SchemaAgent, catalogue_schemas, catalogue_tasks


class AestheticAgent(SchemaAgent):
    """Aesthetic agent: UX audit, accessibility report and design system."""

    name = "aesthetic"
    version = "1.0.0"
    phase = "aesthetic"
    tasks = catalogue_tasks("aesthetic")
    schemas = catalogue_schemas("aesthetic")
    consumes = ("idea-spec", "personas", "user-stories")
    role = (
        "You are a design lead. Audit the experience against the personas, assess WCAG 2.2 AA criteria "
        "and define a design system with tokens."
    )
    instructions = {
        "ui-audit": "Audit the planned user experience: findings with severity and recommendations.",
        "accessibility": "Assess WCAG 2.2 level AA success criteria with a status for each.",
        "design-system": "Define the design system: tokens (colour, type, spacing) and components.",
    }


@hookimpl
def ideamine_register_agents() -> list[type[Any]]:
    """Register the aesthetic agent."""
    return [AestheticAgent]
