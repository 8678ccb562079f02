"""Durable timers: fired by whoever owns the run, idempotent by construction.

Timers live in the store (``arm_timer``); an owner claims due ones with
``claim_due_timers`` (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a single writer on
SQLite), acts, then marks them fired. Every action is "mark, then act" on a guarded
update, so firing twice — after a crash between act and mark — is harmless. A replica
killed between claim and mark leaves a claim that expires (``TIMER_CLAIM_TIMEOUT``), and
a replica that lost the run's lease while acting leaves the timer unfired: either way the
run's next owner fires it (found by tests/chaos, clock_jump).

Kinds:

- ``answer-deadline``: a human did not answer a blocking question in time; its recorded
  assumption stands, and a run that was only waiting for it becomes RUNNING again so an
  owner continues it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from ideamine.enums import QuestionStatus, RunStatus
from ideamine.errors import Conflict, NotFound, StaleAttempt
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
    except StaleAttempt:
        raise  # the lease is lost: the timer stays unfired for the run's new owner
    except Conflict:
        return  # not waiting (already resumed, cancelled, ...)
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
        except StaleAttempt:
            log.info("timer %s left to the new owner of run %s", timer.id, timer.run_id)
            continue  # not completed: claimable again once this claim is abandoned
        await deps.store.complete_timer(timer.id)
        fired += 1
    return fired
