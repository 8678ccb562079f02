"""A no-op agent for orchestration benchmarks: the task path with no agent work in it.

It returns one tiny schema-valid artifact without calling a model, so a benchmark run
measures what IdeaMine adds around an agent — queueing, fencing, the durable commit of
result, artifact, ledger rows and completion notice — and nothing else. A task whose
input has ``sleep_s`` waits that long on its *first* attempt (at most
:data:`MAX_SLEEP_S`): the recovery benchmark needs tasks still running when it kills
their host, and their re-runs elsewhere to finish at once, so "until done" measures the
recovery, not the sleep.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from ideamine import AgentContext, Artifact, TaskDecl, TaskInfo, hookimpl

__all__ = ["AGENT", "ARTIFACT", "MAX_SLEEP_S", "TASK", "NoopAgent", "ideamine_register_agents"]

#: the agent's registered name (what a TaskSubmission names)
AGENT = "bench-noop"
#: its only task key
TASK = "noop"
#: the artifact type it writes
ARTIFACT = "bench-noop-result"
#: longest wait a task may ask for
MAX_SLEEP_S = 120.0


class NoopAgent:
    """Returns ``{"ok": true}`` at once."""

    name: ClassVar[str] = AGENT
    version: ClassVar[str] = "1.0.0"
    phase: ClassVar[str] = "intake"
    tasks: ClassVar[dict[str, TaskDecl]] = {TASK: TaskDecl(produces=(ARTIFACT,))}
    consumes: ClassVar[tuple[str, ...]] = ()
    schemas: ClassVar[dict[str, Any]] = {
        ARTIFACT: {
            "type": "object",
            "properties": {"ok": {"type": "boolean"}},
            "required": ["ok"],
            "additionalProperties": False,
        }
    }

    async def run(self, context: AgentContext, task: TaskInfo) -> list[Artifact]:
        """One artifact, no model call (first attempt: after ``sleep_s`` seconds when asked)."""
        sleep_s = context.task_input.get("sleep_s")
        if isinstance(sleep_s, int | float) and sleep_s > 0 and task.attempt == 1:
            await asyncio.sleep(min(float(sleep_s), MAX_SLEEP_S))
        return [Artifact(ARTIFACT, {"ok": True}, "none")]


@hookimpl
def ideamine_register_agents() -> list[type[Any]]:
    """Register the no-op agent."""
    return [NoopAgent]
