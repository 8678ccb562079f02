"""Story-loop agent: an implementation plan and a review for each selected user story."""

from __future__ import annotations

from typing import Any

from ideamine import hookimpl
from ideamine.agent_kit import SchemaAgent, catalogue_schemas, catalogue_tasks


class StoryLoopAgent(SchemaAgent):
    """Story-loop agent: an implementation plan and a review for each selected user story."""

    name = "story-loop"
    version = "1.0.0"
    phase = "story-loop"
    tasks = catalogue_tasks("story-loop")
    schemas = catalogue_schemas("story-loop")
    consumes = ("architecture", "repo-blueprint", "api-design", "data-model")
    role = (
        "You are a tech lead planning implementation one story at a time, and a reviewer who checks "
        "the plan against the story and the architecture."
    )
    instructions = {
        "plan": "Plan the implementation of this story: tasks, files to touch, tests and risks.",
        "review": "Review the plan of this story: findings with severity and a verdict.",
    }


@hookimpl
def ideamine_register_agents() -> list[type[Any]]:
    """Register the story-loop agent."""
    return [StoryLoopAgent]
