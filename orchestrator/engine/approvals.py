"""Phase approvals for the ``approve_each_phase`` policy.

After a phase's gate passes, a blocking approval question waits for a human (with the
durable answer deadline). An answer starting with approve/yes/ok/lgtm approves; any
other answer rejects the phase, and its text becomes the gate feedback of the next
attempt. Past the deadline the phase counts as approved (a recorded assumption), so an
unattended run still finishes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ideamine.catalogue import PhaseSpec
from ideamine.enums import QuestionStatus
from ideamine.store.records import Event, RunRecord
from orchestrator.engine import events as ev
from orchestrator.engine.deps import EngineDeps
from orchestrator.engine.qav import AWAITING_INPUT, expire_question

__all__ = ["Approvals", "APPROVING_WORDS"]

#: an answer starting with one of these approves the phase
APPROVING_WORDS = ("approve", "approved", "yes", "ok", "lgtm")


class Approvals:
    """The approval question of one phase attempt."""

    def __init__(self, deps: EngineDeps, run: RunRecord, spec: PhaseSpec) -> None:
        self.deps = deps
        self.store = deps.store
        self.run = run
        self.spec = spec

    async def verdict(self, attempt: int) -> tuple[str, str]:
        """("approved" | "rejected" | AWAITING_INPUT, note)."""
        text = (
            f"Approve the {self.spec.name} phase (attempt {attempt})? Answer 'approve' or say what to change."
        )
        q = next(
            (q for q in await self.store.list_questions(self.run.id, phase=self.spec.name) if q.text == text),
            None,
        )
        if q is None:
            q = await self.store.add_question(
                self.run.id,
                self.spec.name,
                text=text,
                blocking=True,
                events=[
                    Event(
                        ev.QUESTION_ASKED,
                        {"text": text, "blocking": True, "approval": True},
                        phase=self.spec.name,
                    )
                ],
            )
        if q.status is QuestionStatus.OPEN:
            deadline = datetime.now(UTC) + timedelta(seconds=self.deps.settings.answer_deadline_seconds)
            q = await self.store.answer_question(
                q.id,
                expected=[QuestionStatus.OPEN],
                status=QuestionStatus.AWAITING_HUMAN,
                answer="approved by default when nobody answers",
                confidence=None,
                scores={},
                answered_by=None,
                deadline=deadline,
            )
            await self.store.arm_timer(
                self.run.id, kind="answer-deadline", key=q.id, fire_at=deadline, payload={"question_id": q.id}
            )
        if q.status is QuestionStatus.AWAITING_HUMAN:
            if q.deadline is not None and q.deadline <= datetime.now(UTC):
                await expire_question(self.deps, q)
                return "approved", "approved by default after the deadline"
            return AWAITING_INPUT, ""
        answer = (q.answer or "").strip()
        if q.status is QuestionStatus.ASSUMED or answer.lower().startswith(APPROVING_WORDS):
            return "approved", answer
        return "rejected", f"reviewer of {self.spec.name}: {answer}"
