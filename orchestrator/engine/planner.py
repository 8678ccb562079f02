"""Pure planning functions: plan hashes, idempotency keys, story selection, readiness.

Nothing here does I/O, so the engine's decisions can be tested (and reproduced on
resume) from data alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ideamine.canonical import content_hash
from ideamine.catalogue import PhaseSpec
from ideamine.plugins import PlannedTask

__all__ = [
    "TaskSlot",
    "plan_hash",
    "idempotency_key",
    "select_stories",
    "expand_slots",
    "ready_slots",
    "MAX_STORIES",
]

#: cap on stories the story-loop plans per run (then bounded by budget)
MAX_STORIES = 8
_PRIORITY_RANK = {"must": 0, "should": 1, "could": 2}


@dataclass(frozen=True)
class TaskSlot:
    """One concrete task of a phase attempt (a planned task, per story when it fans out)."""

    task: PlannedTask
    story_id: str | None = None
    #: key suffix for tasks that are not per story but must not collide (the clarifier's phase)
    scope: str | None = None

    @property
    def key(self) -> str:
        """The stored task key: ``plan``, ``plan:ST-004`` or ``clarify-questions:prd``."""
        suffix = self.story_id or self.scope
        return f"{self.task.key}:{suffix}" if suffix else self.task.key

    def after_keys(self) -> tuple[str, ...]:
        """Keys of the slots this one waits for (same story for per-story tasks)."""
        suffix = self.story_id or self.scope
        return tuple(f"{a}:{suffix}" if suffix else a for a in self.task.after)


def plan_hash(phase: PhaseSpec, tasks: Sequence[PlannedTask], budget_tokens: int) -> str:
    """SHA-256 of what decides a phase's work: agents, versions, rubric and budget."""
    return content_hash(
        {
            "phase": phase.name,
            "tasks": [[t.key, t.agent, t.agent_version, list(t.produces), list(t.after)] for t in tasks],
            "rubric": [
                [
                    m.metric,
                    m.op,
                    m.threshold if not isinstance(m.threshold, tuple) else list(m.threshold),
                    m.weight,
                    m.required,
                ]
                for m in phase.gate.metrics
            ],
            "min_score": phase.gate.min_score,
            "budget_tokens": budget_tokens,
        }
    )


def idempotency_key(
    *,
    run_id: str,
    phase: str,
    agent: str,
    agent_version: str,
    task_key: str,
    input_hashes: Iterable[str],
    feedback: Sequence[str] = (),
) -> str:
    """The key a task's result is committed under (DESIGN §3 rule 2).

    Gate feedback is part of the input: a re-run with findings is new work, a re-run
    with identical inputs is not.
    """
    return content_hash(
        {
            "run_id": run_id,
            "phase": phase,
            "agent": agent,
            "agent_version": agent_version,
            "task_key": task_key,
            "inputs": sorted(input_hashes),
            "feedback": list(feedback),
        }
    )


def select_stories(
    user_stories: Mapping[str, Any] | None, *, limit: int = MAX_STORIES
) -> list[dict[str, Any]]:
    """Stories the story-loop plans: must, then should, by points, capped at ``limit``."""
    if not user_stories:
        return []
    stories = [s for s in user_stories.get("stories", []) if isinstance(s, dict) and s.get("id")]
    stories.sort(
        key=lambda s: (_PRIORITY_RANK.get(str(s.get("priority")), 3), -int(s.get("points", 0) or 0), s["id"])
    )
    chosen = [s for s in stories if s.get("priority") in ("must", "should")]
    return chosen[:limit]


def expand_slots(tasks: Sequence[PlannedTask], stories: Sequence[Mapping[str, Any]]) -> list[TaskSlot]:
    """Concrete slots: per-story tasks once per selected story, others once."""
    slots: list[TaskSlot] = []
    for t in tasks:
        if t.per_story:
            slots.extend(TaskSlot(t, str(s["id"])) for s in stories)
        else:
            slots.append(TaskSlot(t))
    return slots


def ready_slots(slots: Sequence[TaskSlot], done: set[str], started: set[str]) -> list[TaskSlot]:
    """Slots not yet started whose in-phase predecessors are all done, deepest first.

    The dispatcher fills free parallelism slots from the front, so the order is a
    scheduling policy: a task that continues a chain (a story's ``review`` once its
    ``plan`` is done) goes before one that starts a new chain (the next story's
    ``plan``). Depth-first keeps the dependent step of a finished task from waiting for
    a slot behind fresh work, which is what lengthens a fanned-out phase's critical path;
    the phase's total work is the same either way. Ties keep the plan's order.
    """
    depth = _depths(slots)
    ready = [s for s in slots if s.key not in started and all(a in done for a in s.after_keys())]
    return sorted(ready, key=lambda s: -depth[s.key])


def _depths(slots: Sequence[TaskSlot]) -> dict[str, int]:
    """Each slot's number of in-phase predecessors on its longest chain (0 for a chain's head)."""
    after = {s.key: s.after_keys() for s in slots}
    depth: dict[str, int] = {}

    def of(key: str, seen: frozenset[str]) -> int:
        if key not in depth:
            preds = [a for a in after.get(key, ()) if a in after and a not in seen]
            depth[key] = max((of(a, seen | {key}) + 1 for a in preds), default=0)
        return depth[key]

    for s in slots:
        of(s.key, frozenset())
    return depth
