"""What an agent is, and what it gets: the typed side of the plugin system.

pluggy discovers agent *classes* (``ideamine_register_agents``); the host instantiates
them and awaits ``run`` directly. An agent satisfies :class:`Agent`:

- it declares its ``name``, ``version`` and ``phase``;
- ``tasks`` maps each task key it handles to a :class:`TaskDecl` (the artifact types it
  writes, which tasks of its phase must finish first, whether it fans out per story);
  catalogue task keys must produce exactly what the catalogue says, other keys add
  *extension* tasks to the phase;
- ``schemas`` holds a JSON Schema per produced artifact type; ``consumes`` names the
  upstream artifact types it reads (they arrive in ``context.artifacts``);
- ``run(context, task)`` returns the artifacts of one task.

The context is frozen: everything an agent may use is in it, including the metered LLM
client (the only way to reach a model) and ``heartbeat()`` (extends the task lease).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol, runtime_checkable

from ideamine.llm.base import LLMRequest

__all__ = [
    "Agent",
    "AgentContext",
    "Artifact",
    "BudgetLeft",
    "GeneratedContent",
    "LLMClient",
    "TaskDecl",
    "TaskInfo",
]


@dataclass(frozen=True)
class TaskDecl:
    """One task an agent handles."""

    produces: tuple[str, ...]
    after: tuple[str, ...] = ()
    per_story: bool = False


@dataclass(frozen=True)
class TaskInfo:
    """Identity of the task being run (modelled on Temporal's ``activity.Info``)."""

    run_id: str
    task_id: str
    phase: str
    task_key: str  #: catalogue key; per-story tasks carry the story in ``story_id``
    agent: str
    agent_version: str
    attempt: int  #: delivery/retry attempt of this task (fencing number)
    phase_attempt: int  #: gate-loop attempt of the phase
    idempotency_key: str
    deadline: datetime | None = None
    story_id: str | None = None


@dataclass(frozen=True)
class BudgetLeft:
    """Remaining budget of the run when the task started (None = unlimited)."""

    tokens: int | None = None
    usd: float | None = None


@dataclass(frozen=True)
class Artifact:
    """An artifact an agent returns; the host validates it against its schema."""

    type: str
    content: dict[str, Any]
    model: str
    input_artifact_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class GeneratedContent:
    """What the metered LLM client returns for one artifact request."""

    content: dict[str, Any]
    model: str
    provider: str
    calls: int = 1
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


class LLMClient(Protocol):
    """The metered model client an agent receives (see ``ideamine.llm.client``)."""

    async def generate(self, request: LLMRequest) -> Any:
        """Reserve budget, call the model, settle, validate and repair; return the artifact.

        The result has at least ``content``, ``model`` and ``provider`` attributes.
        """
        ...


async def _no_heartbeat() -> None:
    return None


@dataclass(frozen=True)
class AgentContext:
    """Everything an agent may use while running one task."""

    info: TaskInfo
    idea: Mapping[str, Any]
    llm: LLMClient
    artifacts: Mapping[str, Any] = field(default_factory=dict)
    artifact_ids: Mapping[str, str] = field(default_factory=dict)
    artifact_index: tuple[Mapping[str, Any], ...] = ()
    story: Mapping[str, Any] | None = None
    feedback: tuple[str, ...] = ()
    #: what the engine put in this task's input beyond the run's artifacts (e.g. questions to answer)
    task_input: Mapping[str, Any] = field(default_factory=dict)
    answers: tuple[Mapping[str, Any], ...] = ()
    #: the run so far: latest gate result per phase (``gates``) and model spend (``cost``)
    run_summary: Mapping[str, Any] = field(default_factory=dict)
    budget_left: BudgetLeft = field(default_factory=BudgetLeft)
    heartbeat: Callable[[], Awaitable[None]] = _no_heartbeat
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)


@runtime_checkable
class Agent(Protocol):
    """The shape every agent class satisfies (built-in or third-party)."""

    name: ClassVar[str]
    version: ClassVar[str]
    phase: ClassVar[str]
    tasks: ClassVar[Mapping[str, TaskDecl]]
    consumes: ClassVar[tuple[str, ...]]
    schemas: ClassVar[Mapping[str, Mapping[str, Any]]]

    async def run(self, context: AgentContext, task: TaskInfo) -> list[Artifact]:
        """Produce the artifacts of ``task``."""
        ...
