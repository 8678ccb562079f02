"""Builds the frozen :class:`~ideamine.agents.AgentContext` for one task from the store."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ideamine.agents import AgentContext, LLMClient, TaskInfo
from ideamine.enums import QuestionStatus
from ideamine.store.base import RunStore
from ideamine.store.records import TaskRecord

__all__ = ["task_info", "build_context"]

#: artifact types with one artifact per story (the context lists them all)
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


async def build_context(
    store: RunStore,
    task: TaskRecord,
    *,
    llm: LLMClient,
    heartbeat: Callable[[], Awaitable[None]],
) -> AgentContext:
    """Everything the agent may read: idea, accepted artifacts, story, feedback, answers."""
    run = await store.get_run(task.run_id)
    records = await store.list_artifacts(task.run_id)
    artifacts: dict[str, Any] = {}
    ids: dict[str, str] = {}
    for r in records:
        if r.key:  # per-story artifacts: keep every story's, keyed by story
            artifacts.setdefault(r.type, {})
            artifacts[r.type][r.key] = r.content
        else:
            artifacts[r.type] = r.content
            ids[r.type] = r.id
    index = tuple(
        {"id": r.id, "type": r.type, "phase": r.phase, "sha256": r.sha256, "key": r.key} for r in records
    )
    questions = await store.list_questions(task.run_id)
    answers = tuple(
        {"question": q.text, "answer": q.answer, "status": q.status.value}
        for q in questions
        if q.status in _ANSWERED and q.answer
    )
    story = task.input.get("story")
    return AgentContext(
        info=task_info(task),
        idea=run.idea,
        llm=llm,
        artifacts=artifacts,
        artifact_ids=ids,
        artifact_index=index,
        story=story if isinstance(story, dict) else None,
        feedback=tuple(str(f) for f in task.input.get("feedback", [])),
        answers=answers,
        heartbeat=heartbeat,
    )
