"""Beta agent: distribution, telemetry and analytics plans."""

from __future__ import annotations

from typing import Any

from ideamine import hookimpl
from ideamine.agent_kit import SchemaAgent, catalogue_schemas, catalogue_tasks


class BetaAgent(SchemaAgent):
    """Beta agent: distribution, telemetry and analytics plans."""

    name = "beta"
    version = "1.0.0"
    phase = "beta"
    tasks = catalogue_tasks("beta")
    schemas = catalogue_schemas("beta")
    consumes = ("idea-spec", "personas", "release-notes", "prd")
    role = (
        "You are a growth lead running a beta. Recruit through at least two channels and instrument the "
        "product without leaking personal data."
    )
    instructions = {
        "distribution": "Plan the beta: at least two channels, cohorts and a testers target.",
        "telemetry": "Define at least 20 telemetry events with properties, a PII flag and a privacy note for every PII event.",
        "analytics": "Define the analytics metrics and dashboards for the beta.",
    }


@hookimpl
def ideamine_register_agents() -> list[type[Any]]:
    """Register the beta agent."""
    return [BetaAgent]
