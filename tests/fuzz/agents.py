"""A test-only agent plugin that hands the worker whatever a fuzz example scripted.

:class:`EchoAgent` returns ``OUTPUTS[case]``, where ``case`` comes from the task's input
(``""`` when the task has none, as under :class:`~ideamine.testing.AgentHarness`). The
value may be anything — artifacts with hostile contents, the wrong artifact type, no
list at all — because the point is what the *worker* does with it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ideamine import TaskDecl, hookimpl
from ideamine.agents import AgentContext, TaskInfo

#: the echo agent's one artifact type and its (strict) schema
REPORT = "fuzz-report"
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["title", "items"],
    "properties": {
        "title": {"type": "string", "maxLength": 200},
        "items": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": False,
}


class EchoAgent:
    """Returns the scripted output of its case."""

    name = "fuzz-echo"
    version = "1.0.0"
    phase = "critique"
    tasks: ClassVar[dict[str, TaskDecl]] = {"fuzz-echo": TaskDecl(produces=(REPORT,))}
    schemas: ClassVar[dict[str, Any]] = {REPORT: SCHEMA}
    consumes = ()
    #: case → what :meth:`run` returns (set by the test before the task is published)
    OUTPUTS: ClassVar[dict[str, Any]] = {}

    async def run(self, context: AgentContext, task: TaskInfo) -> Any:
        """Hand back the scripted value, untouched."""
        return self.OUTPUTS.pop(str(context.task_input.get("case", "")))


@hookimpl
def ideamine_register_agents() -> list[type[Any]]:
    """Register the echo agent."""
    return [EchoAgent]
