"""Builds the frozen :class:`~ideamine.agents.AgentContext` for one task from the store.

A task reads only its inputs (:func:`input_types` plus the artifacts its input names),
in one store call (:func:`read_inputs`) — not every artifact of its run, which made a
large single-run fan-out quadratic. The run summary is read only for agents that declare
``needs_run_summary``.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from ideamine.agents import AgentContext, LLMClient, TaskInfo
from ideamine.catalogue import load_catalogue
from ideamine.enums import QuestionStatus
from ideamine.errors import CatalogError
from ideamine.store.base import RunStore, TaskInputs
from ideamine.store.records import TaskRecord

__all__ = ["task_info", "build_context", "input_types", "read_inputs", "run_summary"]

#: question statuses whose answers reach the agent (accepted, from a person, or assumed)
_ANSWERED = (QuestionStatus.ACCEPTED, QuestionStatus.ANSWERED_BY_HUMAN, QuestionStatus.ASSUMED)


def task_info(task: TaskRecord) -> TaskInfo:
    """The agent-facing identity of a stored task."""
    return TaskInfo(
        run_id=task.run_id,
        task_id=task.id,
        phase=task.phase,
        task_key=str(task.input.get("task", task.task_key)),
        agent=task.agent,
        agent_version=task.agent_version,
        attempt=task.attempt,
        phase_attempt=task.phase_attempt,
        idempotency_key=task.idempotency_key,
        deadline=task.deadline,
        story_id=task.input.get("story_id"),
    )


async def run_summary(store: RunStore, run_id: str) -> dict[str, Any]:
    """Latest gate result per phase and the run's model spend so far."""
    latest: dict[str, Any] = {}
    for g in await store.list_gate_evaluations(run_id):
        latest[g.phase] = {
            "phase": g.phase,
            "decision": g.decision.value,
            "score": g.score,
            "attempt": g.attempt,
        }
    calls = await store.list_llm_calls(run_id=run_id)
    models = sorted({c.model for c in calls})
    cost = {
        "total_usd": round(sum(c.cost_usd for c in calls), 6),
        "total_tokens": sum(c.input_tokens + c.output_tokens for c in calls),
        "calls": len(calls),
        "note": "offline model: token counts are estimates, no money spent" if models == ["offline"] else "",
    }
    return {"gates": list(latest.values()), "cost": cost}


def input_types(agent: type[Any], task: TaskRecord) -> tuple[str, ...]:
    """The artifact types a task of ``agent`` may read — what its context is built from.

    Those are the types the catalogue gives the task's phase and every phase it needs
    (what the engine hashes into the task's idempotency key), the types the agent
    declares in ``consumes``, and what the task's ``after`` tasks produce. Nothing else:
    a run fanned out to 10,000 tasks must not hand each task the other 9,999 results.
    """
    types = set(getattr(agent, "consumes", ()))
    types.update(_catalogue_types(task.phase))
    decls: Mapping[str, Any] = getattr(agent, "tasks", {})
    decl = decls.get(str(task.input.get("task", task.task_key)))
    for key in getattr(decl, "after", ()):
        if key in decls:
            types.update(decls[key].produces)
    return tuple(sorted(types))


@functools.cache
def _catalogue_types(phase: str) -> frozenset[str]:
    """The artifact types of ``phase`` and every phase it needs (the catalogue is loaded once)."""
    catalogue = load_catalogue()
    try:
        return frozenset(
            t for name in catalogue.closure([phase]) for t in catalogue.phase(name).artifact_types
        )
    except CatalogError:  # "*" (serves every phase) or a phase of no catalogue
        return frozenset()


def _named_ids(task: TaskRecord) -> tuple[str, ...]:
    """Artifact ids the task's submitter named (``TaskService.SubmitTasks`` input)."""
    ids = task.input.get("input_artifact_ids")
    return tuple(str(i) for i in ids) if isinstance(ids, list) else ()


async def read_inputs(store: RunStore, task: TaskRecord, types: Sequence[str]) -> TaskInputs:
    """The task's idea, input artifacts and answered questions: one store read, whatever the run's size.

    ``types`` are the artifact types the task reads (:func:`input_types`); artifacts the
    task's input names by id come too. Inputs are artifacts of finished work, so they may
    be read before the task is started (the worker reads them while it starts it).
    """
    return await store.read_task_inputs(task.run_id, types=types, artifact_ids=_named_ids(task))


async def build_context(
    store: RunStore,
    task: TaskRecord,
    inputs: TaskInputs,
    *,
    llm: LLMClient,
    heartbeat: Callable[[], Awaitable[None]],
    with_run_summary: bool = False,
    cancelled: asyncio.Event | None = None,
) -> AgentContext:
    """Everything the agent may read: idea, its input artifacts, story, feedback, answers.

    Args:
        inputs: what :func:`read_inputs` read for the task.
        with_run_summary: add gate results and spend (only agents that ask for it).
        cancelled: set by the host when the task's lease is lost (the agent may stop).
    """
    records = inputs.artifacts
    story_id = task.input.get("story_id")
    artifacts: dict[str, Any] = {}
    ids: dict[str, str] = {}
    for r in records:
        if not r.key or r.key == story_id:  # singletons, and this story's own per-story artifacts
            artifacts[r.type] = r.content
            ids[r.type] = r.id
        elif not story_id:  # a task over all stories sees every story's artifact as a list
            artifacts.setdefault(r.type, [])
            if isinstance(artifacts[r.type], list):
                artifacts[r.type].append(r.content)
    index = tuple(
        {"id": r.id, "type": r.type, "phase": r.phase, "sha256": r.sha256, "key": r.key} for r in records
    )
    answers = tuple(
        {"question": q.text, "answer": q.answer, "status": q.status.value}
        for q in inputs.questions
        if q.status in _ANSWERED and q.answer
    )
    summary = await run_summary(store, task.run_id) if with_run_summary else {}
    story = task.input.get("story")
    return AgentContext(
        info=task_info(task),
        idea=inputs.idea,
        llm=llm,
        artifacts=artifacts,
        artifact_ids=ids,
        artifact_index=index,
        story=story if isinstance(story, dict) else None,
        feedback=tuple(str(f) for f in task.input.get("feedback", [])),
        task_input=dict(task.input),
        answers=answers,
        run_summary=summary,
        heartbeat=heartbeat,
        cancelled=cancelled if cancelled is not None else asyncio.Event(),
    )
