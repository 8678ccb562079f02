"""Agents for the agent-host tests: importable by module path, so they also run isolated.

Each declares an extension task of the critique phase with an artifact type of its own.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, ClassVar

from ideamine import Artifact, TaskDecl, hookimpl
from ideamine.agents import AgentContext, TaskInfo

_OBJECT: dict[str, Any] = {"type": "object"}


class ProbeAgent:
    """Reports what it can see: its environment, pid, the idea and the task identity."""

    name = "probe"
    version = "1.0.0"
    phase = "critique"
    tasks: ClassVar[dict[str, TaskDecl]] = {"probe": TaskDecl(produces=("probe-report",))}
    schemas: ClassVar[dict[str, Any]] = {"probe-report": _OBJECT}
    consumes = ()
    env = ("IDEAMINE_TEST_VISIBLE",)

    async def run(self, context: AgentContext, task: TaskInfo) -> list[Artifact]:
        print("agent output on stdout must not reach the parent's channel")
        await context.heartbeat()
        return [
            Artifact(
                "probe-report",
                {
                    "env": dict(os.environ),
                    "pid": os.getpid(),
                    "idea": context.idea.get("text"),
                    "task": task.task_key,
                    "attempt": task.attempt,
                    "feedback": list(context.feedback),
                    "artifacts": sorted(context.artifacts),
                    "deadline": task.deadline.isoformat() if task.deadline else None,
                },
                "rules",
            )
        ]


class HogAgent:
    """Misbehaves on purpose: allocates without bound, spins, or raises."""

    name = "hog"
    version = "1.0.0"
    phase = "critique"
    tasks: ClassVar[dict[str, TaskDecl]] = {
        key: TaskDecl(produces=("hog-report",)) for key in ("hog-memory", "hog-cpu", "hog-raise", "hog-exit")
    }
    schemas: ClassVar[dict[str, Any]] = {"hog-report": _OBJECT}
    consumes = ()

    async def run(self, context: AgentContext, task: TaskInfo) -> list[Artifact]:
        if task.task_key == "hog-memory":
            hoard = bytearray(8 * 1024**3)
            return [Artifact("hog-report", {"size": len(hoard)}, "rules")]
        if task.task_key == "hog-cpu":
            n = 0
            while True:
                n += 1
        if task.task_key == "hog-exit":
            os._exit(7)
        raise ValueError("the hog agent refuses")


class BlockingAgent:
    """Waits for the test: sets ``started`` then blocks until ``release`` is set."""

    name = "blocking"
    version = "1.0.0"
    phase = "critique"
    tasks: ClassVar[dict[str, TaskDecl]] = {"blocking": TaskDecl(produces=("blocking-report",))}
    schemas: ClassVar[dict[str, Any]] = {"blocking-report": _OBJECT}
    consumes = ()
    started: ClassVar[asyncio.Event] = asyncio.Event()
    release: ClassVar[asyncio.Event] = asyncio.Event()

    @classmethod
    def reset(cls) -> None:
        """Fresh events for the next test."""
        cls.started = asyncio.Event()
        cls.release = asyncio.Event()

    async def run(self, context: AgentContext, task: TaskInfo) -> list[Artifact]:
        self.started.set()
        await self.release.wait()
        return [Artifact("blocking-report", {"attempt": task.attempt}, "rules")]


@hookimpl
def ideamine_register_agents() -> list[type[Any]]:
    """Register the test agents (used as an ``extra`` plugin)."""
    return [ProbeAgent, HogAgent, BlockingAgent]
