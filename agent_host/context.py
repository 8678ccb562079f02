"""Builds the frozen :class:`~ideamine.agents.AgentContext` for one task from the store."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ideamine.agents import AgentContext, LLMClient, TaskInfo
from ideamine.enums import QuestionStatus
from ideamine.store.base import RunStore
from ideamine.store.records import TaskRecord

__all__ = ["task_info", "build_context", "run_summary"]

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


async def build_context(
    store: RunStore,
    task: TaskRecord,
    *,
    llm: LLMClient,
    heartbeat: Callable[[], Awaitable[None]],
    with_run_summary: bool = False,
) -> AgentContext:
    """Everything the agent may read: idea, accepted artifacts, story, feedback, answers."""
    run = await store.get_run(task.run_id)
    records = await store.list_artifacts(task.run_id)
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
    questions = await store.list_questions(task.run_id)
    answers = tuple(
        {"question": q.text, "answer": q.answer, "status": q.status.value}
        for q in questions
        if q.status in _ANSWERED and q.answer
    )
    summary = await run_summary(store, task.run_id) if with_run_summary else {}
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
        task_input=dict(task.input),
        answers=answers,
        run_summary=summary,
        heartbeat=heartbeat,
    )
