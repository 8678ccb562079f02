"""Release agent: deployment plan, release notes and the release dossier."""

from __future__ import annotations

from typing import Any

from ideamine import hookimpl
from ideamine.agent_kit import SchemaAgent, catalogue_schemas, catalogue_tasks


class ReleaseAgent(SchemaAgent):
    """Release agent: deployment plan, release notes and the release dossier."""

    name = "release"
    version = "1.0.0"
    phase = "release"
    tasks = catalogue_tasks("release")
    schemas = catalogue_schemas("release")
    needs_run_summary = True  # the release dossier reports gate results and cost
    needs_artifact_index = True  # ... and lists every artifact with its SHA-256
    consumes = (
        "idea-spec",
        "infrastructure-plan",
        "ci-pipeline",
        "test-plan",
        "deployment-plan",
        "release-notes",
    )
    role = (
        "You are a release manager. Deployments are reversible, versions are semver and the dossier "
        "accounts for every artifact with its hash."
    )
    instructions = {
        "deployment": "Plan the deployment: strategy (blue-green, canary or rolling) and a rollback with trigger and steps.",
        "release-notes": "Write the release notes: a semver version, highlights and known issues.",
        "packaging": "Assemble the release dossier: every artifact with its SHA-256, the traceability matrix, gate results and cost.",
    }


@hookimpl
def ideamine_register_agents() -> list[type[Any]]:
    """Register the release agent."""
    return [ReleaseAgent]
