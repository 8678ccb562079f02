"""Build agent: repository blueprint, CI/CD pipeline and environment plan."""

from __future__ import annotations

from typing import Any

from ideamine import hookimpl
from ideamine.agent_kit import SchemaAgent, catalogue_schemas, catalogue_tasks


class BuildAgent(SchemaAgent):
    """Build agent: repository blueprint, CI/CD pipeline and environment plan."""

    name = "build"
    version = "1.0.0"
    phase = "build"
    tasks = catalogue_tasks("build")
    schemas = catalogue_schemas("build")
    consumes = ("architecture", "tech-stack", "infrastructure-plan")
    role = (
        "You are a staff engineer setting up delivery. The repository layout mirrors the architecture "
        "and the pipeline enforces quality and security from day one."
    )
    instructions = {
        "repo-blueprint": "Lay out the repository: one module per architecture component, with its path.",
        "ci-cd": "Define the CI/CD pipeline stages, including lint, test and security scanning.",
        "environments": "Plan the environments, infrastructure as code and secrets handling.",
    }


@hookimpl
def ideamine_register_agents() -> list[type[Any]]:
    """Register the build agent."""
    return [BuildAgent]
