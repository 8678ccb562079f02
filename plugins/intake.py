"""Intake agent: turns the raw idea into a classified, expanded and validated IdeaSpec."""

from __future__ import annotations

from typing import Any

from ideamine import hookimpl
from ideamine.agent_kit import SchemaAgent, catalogue_schemas, catalogue_tasks


class IntakeAgent(SchemaAgent):
    """Classify → expand → validate the submitted idea."""

    name = "intake"
    version = "1.0.0"
    phase = "intake"
    tasks = catalogue_tasks("intake")
    schemas = catalogue_schemas("intake")
    consumes = ("idea-classification", "idea-spec")
    role = (
        "You turn a raw product idea into a precise specification. Stay faithful to what the "
        "submitter wrote; where something is missing, apply a sensible default and say so."
    )
    instructions = {
        "classify": "Classify the idea: product category, complexity (low/medium/high) and the compliance regimes it implies.",
        "expand": "Expand the idea into an IdeaSpec: title, summary, problem, target users, success criteria and constraints.",
        "validate": "Validate the IdeaSpec: score its completeness from 0 to 1, list issues and the defaults you applied.",
    }


@hookimpl
def ideamine_register_agents() -> list[type[Any]]:
    """Register the intake agent."""
    return [IntakeAgent]
