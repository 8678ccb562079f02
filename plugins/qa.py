"""QA agent: end-to-end, load, security and accessibility test plans."""

from __future__ import annotations

from typing import Any

from ideamine import hookimpl
from ideamine.agent_kit import SchemaAgent, catalogue_schemas, catalogue_tasks


class QaAgent(SchemaAgent):
    """QA agent: end-to-end, load, security and accessibility test plans."""

    name = "qa"
    version = "1.0.0"
    phase = "qa"
    tasks = catalogue_tasks("qa")
    schemas = catalogue_schemas("qa")
    consumes = ("prd", "user-stories", "threat-model", "architecture", "api-design")
    role = (
        "You are a QA lead. Every acceptance criterion has a test case, every performance target has a "
        "load scenario and every high threat has a security test."
    )
    instructions = {
        "e2e": "Write end-to-end test cases (TC-###) covering the acceptance criteria, with steps.",
        "load": "Write load-test scenarios for each performance NFR with target RPS and p95 latency.",
        "security-tests": "Write security test cases for the threats, high and critical first.",
        "accessibility-tests": "Write accessibility checks for the main user journeys.",
    }


@hookimpl
def ideamine_register_agents() -> list[type[Any]]:
    """Register the qa agent."""
    return [QaAgent]
