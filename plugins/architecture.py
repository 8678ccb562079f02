"""Architecture agent: system design, data model, API design and infrastructure."""

from __future__ import annotations

from typing import Any

from ideamine import hookimpl
from ideamine.agent_kit import SchemaAgent, catalogue_schemas, catalogue_tasks


class ArchitectureAgent(SchemaAgent):
    """Architecture agent: system design, data model, API design and infrastructure."""

    name = "architecture"
    version = "1.0.0"
    phase = "architecture"
    tasks = catalogue_tasks("architecture")
    schemas = catalogue_schemas("architecture")
    consumes = ("idea-spec", "tech-stack", "prd", "user-stories", "data-model")
    role = (
        "You are a software architect. Every functional requirement maps to a component, every API "
        "endpoint uses defined entities, and decisions are recorded as ADRs."
    )
    instructions = {
        "system-design": "Design the system: components (CMP-##) with responsibilities and the requirement ids each covers, and ADRs (ADR-###).",
        "data-model": "Design the data model: entities (ENT-##) with fields and relations.",
        "api": "Design the API: endpoints (API-##) with method, path, the entity ids they use and their auth.",
        "infrastructure": "Plan the infrastructure: environments, scaling, observability, and disaster recovery targets (RTO, RPO).",
    }


@hookimpl
def ideamine_register_agents() -> list[type[Any]]:
    """Register the architecture agent."""
    return [ArchitectureAgent]
