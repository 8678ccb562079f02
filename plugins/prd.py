"""PRD agent: requirements, user stories with acceptance criteria, and the traceability matrix."""

from __future__ import annotations

from typing import Any

from ideamine import hookimpl
from ideamine.agent_kit import SchemaAgent, catalogue_schemas, catalogue_tasks


class PrdAgent(SchemaAgent):
    """PRD agent: requirements, user stories with acceptance criteria, and the traceability matrix."""

    name = "prd"
    version = "1.0.0"
    phase = "prd"
    tasks = catalogue_tasks("prd")
    schemas = catalogue_schemas("prd")
    consumes = (
        "idea-spec",
        "product-strategy",
        "personas",
        "critique-report",
        "risk-register",
        "prd",
        "user-stories",
    )
    role = (
        "You are a senior product manager. Requirements are testable and numbered; every must-have "
        "requirement is covered by stories, and every story has acceptance criteria."
    )
    instructions = {
        "requirements": "Write the PRD: functional requirements (FR-###) with MoSCoW priority and source, and non-functional requirements (NFR-###) with targets.",
        "stories": "Write epics and user stories (ST-###) referencing requirement ids, each with Given/When/Then acceptance criteria (AC-###).",
        "traceability": "Build the requirements traceability matrix: every requirement id with the stories that cover it.",
    }


@hookimpl
def ideamine_register_agents() -> list[type[Any]]:
    """Register the prd agent."""
    return [PrdAgent]
