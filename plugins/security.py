"""Security agent: threat model, controls, privacy assessment and supply-chain policy."""

from __future__ import annotations

from typing import Any

from ideamine import hookimpl
from ideamine.agent_kit import SchemaAgent, catalogue_schemas, catalogue_tasks


class SecurityAgent(SchemaAgent):
    """Security agent: threat model, controls, privacy assessment and supply-chain policy."""

    name = "security"
    version = "1.0.0"
    phase = "security"
    tasks = catalogue_tasks("security")
    schemas = catalogue_schemas("security")
    consumes = (
        "idea-spec",
        "idea-classification",
        "architecture",
        "api-design",
        "data-model",
        "threat-model",
        "security-controls",
    )
    role = (
        "You are a security architect. Model threats per component with STRIDE; every high or critical "
        "threat has controls; every compliance requirement maps to controls."
    )
    instructions = {
        "threat-model": "Build a STRIDE threat model (THR-###) per component with severity and the control ids that mitigate each threat.",
        "controls": "Define the security controls (CTL-###) the threat model references, with the threats each mitigates.",
        "privacy": "Assess privacy: data categories and a compliance map from each regime requirement to control ids.",
        "supply-chain": "Write the supply-chain policy: SBOM, artifact signing and dependency policy.",
    }


@hookimpl
def ideamine_register_agents() -> list[type[Any]]:
    """Register the security agent."""
    return [SecurityAgent]
