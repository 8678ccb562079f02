"""Drive the offline model through the whole catalogue the way the engine will.

Context per request: the idea from the run file, ``artifacts`` = the latest content of
every type accepted so far, ``artifact_index`` with SHA-256 of each accepted artifact, and
for per-story tasks one request per user story of priority must (at most 8).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ideamine.catalogue import load_catalogue
from ideamine.llm.base import LLMRequest
from ideamine.llm.offline import OfflineProvider
from ideamine.schemas import load_schema
from orchestrator.gates import ArtifactRecord, ArtifactSet, GateResult, evaluate_gate

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "orchestrations"
EXAMPLE_NAMES = ("todo-app", "iot-dashboard", "healthcare-platform")
STORY_CAP = 8


def load_idea(name: str) -> dict[str, Any]:
    """The ``context["idea"]`` of an example run file."""
    run = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text(encoding="utf-8"))
    return {"text": run["idea"], "title": run["title"], "constraints": run["constraints"]}


@dataclass
class PipelineRun:
    """Everything one offline run of the catalogue produced."""

    latest: dict[str, dict[str, Any]] = field(default_factory=dict)
    records: list[ArtifactRecord] = field(default_factory=list)
    gates: dict[str, GateResult] = field(default_factory=dict)
    generation_seconds: float = 0.0

    @property
    def artifact_set(self) -> ArtifactSet:
        return ArtifactSet(self.records)


def _request(artifact_type: str, phase: str, task: str, context: dict[str, Any]) -> LLMRequest:
    return LLMRequest(
        agent=f"{phase}-agent",
        phase=phase,
        artifact_type=artifact_type,
        schema=load_schema(artifact_type),
        system="You produce one artifact.",
        prompt=f"Produce the {artifact_type} artifact.",
        context=context,
    )


async def run_pipeline(idea: dict[str, Any], *, feedback: dict[str, list[str]] | None = None) -> PipelineRun:
    """Generate every artifact type in pipeline order and evaluate each phase's gate."""
    provider = OfflineProvider()
    run = PipelineRun()
    for phase in load_catalogue().phases:
        for task in phase.tasks:
            for artifact_type in task.produces:
                stories: list[dict[str, Any] | None] = [None]
                if task.per_story:
                    must = [s for s in run.latest["user-stories"]["stories"] if s["priority"] == "must"]
                    stories = list(must[:STORY_CAP])
                for story in stories:
                    context: dict[str, Any] = {
                        "idea": idea,
                        "artifacts": dict(run.latest),
                        "artifact_index": [
                            {"id": None, "type": r.type, "phase": r.phase, "sha256": r.sha256}
                            for r in run.records
                        ],
                        "feedback": list((feedback or {}).get(artifact_type, [])),
                        "phase": phase.name,
                        "task": task.key,
                    }
                    if story is not None:
                        context["story"] = story
                    started = time.perf_counter()
                    result = await provider.complete(_request(artifact_type, phase.name, task.key, context))
                    run.generation_seconds += time.perf_counter() - started
                    run.latest[artifact_type] = result.content
                    run.records.append(ArtifactRecord.of(artifact_type, result.content, phase=phase.name))
        run.gates[phase.name] = evaluate_gate(phase, run.artifact_set)
    return run
