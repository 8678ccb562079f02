"""Handing a task back: a new attempt for another worker, or DEAD when attempts ran out.

Both an agent host (a task it finds held by a worker whose lease ran out, a lease it
lost itself, a drain) and the orchestrator (the tasks of a worker whose process is gone,
:mod:`orchestrator.lost_workers`) give tasks back the same way, with the same ledger
events, completion notices and counters — so these live here, once.
"""

from __future__ import annotations

from typing import Any

from ideamine import metrics
from ideamine.enums import TERMINAL_TASK_STATUSES, TaskStatus
from ideamine.errors import AgentError, encode_task_error
from ideamine.store.base import RunStore
from ideamine.store.records import Event, TaskRecord

__all__ = ["bury", "hand_back_lost", "requeue", "task_notice"]


def task_notice(task: TaskRecord, status: TaskStatus) -> dict[str, Any]:
    """The completion notice of ``task`` ending in ``status`` (what wakes its phase)."""
    return {
        "task_id": task.id,
        "run_id": task.run_id,
        "attempt": task.attempt,
        "status": status.value,
        "phase": task.phase,
    }


async def requeue(store: RunStore, task: TaskRecord, *, reason: str, event: str, label: str) -> None:
    """Re-queue ``task`` as attempt + 1 (fenced by its attempt), with a ledger event and a count."""
    await store.requeue_task(
        task.id,
        attempt=task.attempt,
        reason=reason,
        events=[
            Event(event, {"reason": reason, "attempt": task.attempt + 1}, phase=task.phase, task_id=task.id)
        ],
    )
    metrics.TASKS_REQUEUED.labels(phase=task.phase, reason=label).inc()


async def bury(store: RunStore, task: TaskRecord, *, reason: str) -> None:
    """End ``task`` as DEAD (fenced by its attempt) unless it already ended."""
    if task.status in TERMINAL_TASK_STATUSES:
        return
    await store.fail_task(
        task.id,
        attempt=task.attempt,
        error=encode_task_error(AgentError(f"dead-lettered: {reason}")),
        status=TaskStatus.DEAD,
        events=[Event("task.dead", {"reason": reason}, phase=task.phase, task_id=task.id)],
        notice=task_notice(task, TaskStatus.DEAD),
    )
    metrics.task_finished(task.agent, "dead")


async def hand_back_lost(store: RunStore, task: TaskRecord, *, reason: str, label: str) -> None:
    """A RUNNING attempt whose worker is lost: the next attempt, or DEAD after the last one.

    Every attempt losing its worker is how a task that crashes whatever runs it (a
    poison task) shows itself, so it stops at ``max_deliveries``.
    """
    if task.attempt >= task.max_deliveries:
        await bury(store, task, reason=f"{task.attempt} attempts lost their worker")
    else:
        await requeue(store, task, reason=reason, event="task.stalled", label=label)
