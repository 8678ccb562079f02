"""A base class for agents whose tasks each ask a model for schema-valid artifacts.

Most agents (all 13 built-ins) do the same thing per task: for each artifact type the
task produces, build one structured-output request — a system prompt with the agent's
role, the task's instruction, and the untrusted inputs (idea, upstream artifacts, the
story, gate feedback, accepted answers) inside delimited data blocks — and hand it to
the metered client, which validates and repairs. :class:`SchemaAgent` does exactly that;
a subclass only declares its role, instructions and what it consumes.

Third-party agents may subclass it too (``from ideamine import SchemaAgent``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from ideamine.agents import AgentContext, Artifact, TaskDecl, TaskInfo
from ideamine.catalogue import load_catalogue
from ideamine.llm.base import LLMRequest
from ideamine.llm.prompting import SYSTEM_PREAMBLE, data_block

__all__ = ["SchemaAgent", "catalogue_tasks", "catalogue_schemas"]

#: cap on one upstream artifact's JSON inside a prompt (keeps prompts bounded)
MAX_ARTIFACT_CHARS = 24_000


def catalogue_tasks(phase: str) -> dict[str, TaskDecl]:
    """The catalogue's tasks of ``phase`` as agent task declarations."""
    spec = load_catalogue().phase(phase)
    return {t.key: TaskDecl(produces=t.produces, after=t.after, per_story=t.per_story) for t in spec.tasks}


def catalogue_schemas(phase: str) -> dict[str, Mapping[str, Any]]:
    """The shipped JSON Schemas of every artifact type ``phase`` produces."""
    from ideamine.schemas import load_schema

    return {t: load_schema(t) for t in load_catalogue().phase(phase).artifact_types}


class SchemaAgent:
    """An agent that writes each produced artifact with one structured model request."""

    name: ClassVar[str]
    version: ClassVar[str] = "1.0.0"
    phase: ClassVar[str]
    tasks: ClassVar[Mapping[str, TaskDecl]]
    schemas: ClassVar[Mapping[str, Mapping[str, Any]]]
    consumes: ClassVar[tuple[str, ...]] = ()
    #: one paragraph: who the agent is and what good output looks like
    role: ClassVar[str] = ""
    #: per task key: what to produce
    instructions: ClassVar[Mapping[str, str]] = {}
    max_tokens: ClassVar[int] = 8192
    #: whether the agent reads the run's gate results and spend (``context.run_summary``)
    needs_run_summary: ClassVar[bool] = False
    #: whether the prompt lists every artifact the task may read, with id and SHA-256
    #: (``context.artifact_index``) — for an agent that must account for all of them
    needs_artifact_index: ClassVar[bool] = False

    def system_prompt(self) -> str:
        """The system prompt: the data-handling preamble plus the agent's role."""
        return f"{SYSTEM_PREAMBLE}\n\nYou are IdeaMine's {self.name} agent. {self.role}"

    def user_prompt(self, context: AgentContext, task: TaskInfo, artifact_type: str) -> str:
        """The user message: the instruction, then every input as a delimited data block."""
        parts = [
            f"Task: {self.instructions.get(task.task_key, task.task_key)}",
            f"Produce the `{artifact_type}` artifact by calling the tool; reuse upstream ids exactly.",
            data_block("idea", json.dumps(dict(context.idea), ensure_ascii=False, indent=1)),
        ]
        for t in self.consumes:
            if t in context.artifacts:
                text = json.dumps(context.artifacts[t], ensure_ascii=False)
                parts.append(data_block(f"artifact:{t}", text[:MAX_ARTIFACT_CHARS]))
        if self.needs_artifact_index and context.artifact_index:
            index = [dict(a) for a in context.artifact_index]
            parts.append(data_block("artifact-index", json.dumps(index, ensure_ascii=False)))
        summary = {k: v for k, v in context.run_summary.items() if k in ("gates", "cost")}
        if summary:
            parts.append(data_block("run-summary", json.dumps(summary, ensure_ascii=False)))
        if context.story is not None:
            parts.append(data_block("story", json.dumps(dict(context.story), ensure_ascii=False)))
        if context.answers:
            parts.append(
                data_block("answers", json.dumps([dict(a) for a in context.answers], ensure_ascii=False))
            )
        if context.feedback:
            parts.append("The previous attempt failed its gate. Fix these findings:")
            parts.append(data_block("gate-findings", "\n".join(context.feedback)))
        return "\n\n".join(parts)

    def request_context(self, context: AgentContext, task: TaskInfo) -> dict[str, Any]:
        """The structured context the request carries (what the offline model reads)."""
        return {
            "idea": dict(context.idea),
            "artifacts": {k: v for k, v in context.artifacts.items()},
            "artifact_index": [dict(a) for a in context.artifact_index],
            "story": dict(context.story) if context.story is not None else None,
            "feedback": list(context.feedback),
            "answers": [dict(a) for a in context.answers],
            "phase": task.phase,
            "task": task.task_key,
            **{k: v for k, v in context.run_summary.items() if k in ("gates", "cost")},
        }

    async def run(self, context: AgentContext, task: TaskInfo) -> list[Artifact]:
        """Produce every artifact type of ``task`` with one validated model request each."""
        decl = self.tasks[task.task_key]
        consumed_ids = tuple(context.artifact_ids[t] for t in self.consumes if t in context.artifact_ids)
        out: list[Artifact] = []
        for artifact_type in decl.produces:
            if out:  # before paying for the next call: is the lease still ours? (the commit is fenced anyway)
                await context.heartbeat()
            request = LLMRequest(
                agent=self.name,
                phase=task.phase,
                artifact_type=artifact_type,
                schema=self.schemas[artifact_type],
                system=self.system_prompt(),
                prompt=self.user_prompt(context, task, artifact_type),
                context=self.request_context(context, task),
                max_tokens=self.max_tokens,
            )
            generated = await context.llm.generate(request)
            out.append(Artifact(artifact_type, dict(generated.content), generated.model, consumed_ids))
        return out
