"""Durable timers: fired by whoever owns the run, idempotent by construction.

Timers live in the store (``arm_timer``); an owner claims due ones with
``claim_due_timers`` (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a single writer on
SQLite), acts, then marks them fired. Every action is "mark, then act" on a guarded
update, so firing twice — after a crash between act and mark — is harmless.

Kinds:

- ``answer-deadline``: a human did not answer a blocking question in time; its recorded
  assumption stands, and a run that was only waiting for it becomes RUNNING again so an
  owner continues it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from ideamine.enums import QuestionStatus, RunStatus
from ideamine.errors import Conflict, NotFound
from ideamine.store.records import Event, TimerRecord
from orchestrator.engine import events as ev
from orchestrator.engine.deps import EngineDeps
from orchestrator.engine.qav import expire_question

__all__ = ["fire_due_timers", "ANSWER_DEADLINE"]

log = logging.getLogger(__name__)

#: timer kind armed for each question escalated to a human
ANSWER_DEADLINE = "answer-deadline"


async def _answer_deadline(deps: EngineDeps, timer: TimerRecord) -> None:
    store = deps.store
    question_id = timer.payload.get("question_id")
    if question_id:
        q = await store.get_question(str(question_id))
        if q.status is QuestionStatus.AWAITING_HUMAN:
            await expire_question(deps, q)
    waiting = [
        x for x in await store.list_questions(timer.run_id) if x.status is QuestionStatus.AWAITING_HUMAN
    ]
    if waiting:
        return
    try:
        await store.transition_run(
            timer.run_id,
            expected=[RunStatus.AWAITING_INPUT],
            new=RunStatus.RUNNING,
            reason="answer deadline passed",
            events=[Event(ev.RUN_RESUMED, {"from": "AWAITING_INPUT", "timer": timer.kind})],
        )
    except Conflict:
        return  # not waiting (already resumed, cancelled, ...) or the lease is lost
    deps.waker.notify(timer.run_id)


async def fire_due_timers(
    deps: EngineDeps, *, owner: str, run_ids: list[str] | None = None, limit: int = 100
) -> int:
    """Claim and fire due timers (of ``run_ids`` when given); returns how many fired."""
    fired = 0
    for timer in await deps.store.claim_due_timers(
        owner=owner, now=datetime.now(UTC), limit=limit, run_ids=run_ids
    ):
        try:
            if timer.kind == ANSWER_DEADLINE:
                await _answer_deadline(deps, timer)
            else:
                log.warning("timer %s of unknown kind %r ignored", timer.id, timer.kind)
        except NotFound:
            pass  # its question or run is gone: nothing to do
        await deps.store.complete_timer(timer.id)
        fired += 1
    return fired
