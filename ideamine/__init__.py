"""IdeaMine: the shared kernel and the one import surface for plugin authors.

Plugin authors import from here only::

    from ideamine import SchemaAgent, hookimpl

Everything not in ``__all__`` is internal and may change.
"""

from ideamine.agent_kit import SchemaAgent, catalogue_schemas, catalogue_tasks
from ideamine.agents import Agent, AgentContext, Artifact, BudgetLeft, TaskDecl, TaskInfo
from ideamine.errors import AgentError, IdeaMineError, InvalidInput, PluginError
from ideamine.guards import Draft, Finding
from ideamine.hookspecs import hookimpl, hookspec

__all__ = [
    "Agent",
    "AgentContext",
    "AgentError",
    "Artifact",
    "BudgetLeft",
    "Draft",
    "Finding",
    "IdeaMineError",
    "InvalidInput",
    "PluginError",
    "SchemaAgent",
    "TaskDecl",
    "TaskInfo",
    "catalogue_schemas",
    "catalogue_tasks",
    "hookimpl",
    "hookspec",
]
