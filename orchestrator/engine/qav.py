"""Clarify: the Q/A/V loop of a phase attempt.

1. **Q** — once per phase, a clarifier task lists the phase's decision-changing open
   questions (at most the catalogue's ``qav.max_questions``); each becomes a stored
   question (Q-001 …, ``question.asked``).
2. **A** — in up to ``qav.max_rounds`` rounds, a clarifier task answers the open
   questions from the run's artifacts and its knowledge base (full-text search over
   earlier accepted answers, handed to the task with each question).
3. **V** — the engine scores each answer deterministically (:mod:`validator`); accepted
   answers are stored (``question.answered``) and become knowledge for later tasks;
   rejected ones are asked again with the reasons.
4. Questions still open after the last round are UNKNOWN: recorded as assumptions
   (ASM-001 …). Under the ``ask_on_blocking`` policy a blocking one waits for a human
   instead (AWAITING_HUMAN, with a durable deadline timer after which the assumption
   stands), and the run pauses as AWAITING_INPUT.

Every step is re-derived from the store, so a resumed run continues where it stopped.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from ideamine.catalogue import PhaseSpec
from ideamine.enums import Policy, QuestionStatus
from ideamine.plugins import PlannedTask
from ideamine.store.records import Event, QuestionRecord, RunRecord
from orchestrator.engine import events as ev
from orchestrator.engine.artifact_view import PhaseArtifacts
from orchestrator.engine.deps import EngineDeps
from orchestrator.engine.dispatch import Dispatcher, DispatchOutcome
from orchestrator.engine.planner import TaskSlot
from orchestrator.engine.validator import accepts, score_answer

__all__ = ["CLARIFIER", "AWAITING_INPUT", "Clarifier", "expire_question"]

#: the agent the Clarify step dispatches to
CLARIFIER = "clarifier"
#: returned by :meth:`Clarifier.clarify` when a human must answer first
AWAITING_INPUT = "awaiting_input"
_ANSWER_DEADLINE_KIND = "answer-deadline"  #: see orchestrator.engine.timers
_SETTLED = (QuestionStatus.ACCEPTED, QuestionStatus.ASSUMED, QuestionStatus.ANSWERED_BY_HUMAN)


async def expire_question(deps: EngineDeps, q: QuestionRecord) -> None:
    """Nobody answered in time: the recorded assumption stands (idempotent)."""
    from ideamine.errors import Conflict

    try:
        await deps.store.answer_question(
            q.id,
            expected=[QuestionStatus.AWAITING_HUMAN],
            status=QuestionStatus.ASSUMED,
            answer=q.answer,
            confidence=q.confidence,
            scores=q.scores,
            answered_by=None,
            events=[
                Event(
                    ev.QUESTION_ANSWERED,
                    {"code": q.code, "status": "ASSUMED", "reason": "deadline"},
                    phase=q.phase,
                ),
                Event(ev.ASSUMPTION_RECORDED, {"question": q.code}, phase=q.phase),
            ],
            assumption=f"{q.code} unanswered by its deadline; assumed: {q.answer or 'the default in the artifacts'}",
        )
    except Conflict:
        return  # answered (or expired) meanwhile


class Clarifier:
    """Runs the Clarify step of one phase."""

    def __init__(
        self, deps: EngineDeps, run: RunRecord, spec: PhaseSpec, artifacts: PhaseArtifacts | None = None
    ) -> None:
        self.deps = deps
        self.store = deps.store
        self.run = run
        self.spec = spec
        self.thresholds = deps.catalogue.defaults.qav
        self.artifacts = artifacts or PhaseArtifacts(deps, run, spec)
        #: lower-cased JSON of each artifact by id (artifacts are immutable)
        self._texts: dict[str, str] = {}

    def _slot(self, key: str, produces: str, round_no: int = 0) -> TaskSlot | None:
        try:
            entry = self.deps.registry.get(CLARIFIER)
        except KeyError:
            return None  # no clarifier installed: nothing to ask
        task = PlannedTask(key, entry.name, entry.version, (produces,), (), False, True)
        return TaskSlot(task, scope=f"{self.spec.name}-r{round_no}" if round_no else self.spec.name)

    async def _run_task(self, slot: TaskSlot, attempt: int, extra: dict[str, Any]) -> DispatchOutcome:
        return await Dispatcher(self.deps, self.run, self.spec, self.artifacts).dispatch(
            [slot], attempt=attempt, rerun=None, feedback=[], extra_input={slot.key: extra}
        )

    async def _artifact(self, artifact_type: str) -> dict[str, Any]:
        records = await self.store.list_artifacts(self.run.id, phase=self.spec.name, type=artifact_type)
        return dict(records[-1].content) if records else {}

    async def clarify(self, attempt: int) -> DispatchOutcome | str:
        """Ask, answer, validate; DONE, AWAITING_INPUT, or why dispatch stopped."""
        if self.spec.qav.max_questions <= 0:
            return DispatchOutcome.DONE
        ask = self._slot("clarify-questions", "qav-questions")
        if ask is None:
            return DispatchOutcome.DONE
        base = {"qav_phase": self.spec.name, "max_questions": self.spec.qav.max_questions}
        outcome = await self._run_task(ask, attempt, base)
        if outcome is not DispatchOutcome.DONE:
            return outcome
        await self._record_questions()
        feedback: dict[str, str] = {}
        previous: dict[str, Any] = {}
        for round_no in range(1, self.spec.qav.max_rounds + 1):
            open_qs = [
                q
                for q in await self.store.list_questions(self.run.id, phase=self.spec.name)
                if q.status is QuestionStatus.OPEN
            ]
            if not open_qs:
                break
            slot = self._slot("clarify-answers", "qav-answers", round_no)
            assert slot is not None
            payload = {
                **base,
                "questions": list(
                    await asyncio.gather(*(self._question_input(q, feedback.get(q.code)) for q in open_qs))
                ),
            }
            outcome = await self._run_task(slot, attempt, payload)
            if outcome is not DispatchOutcome.DONE:
                return outcome
            answers = {
                a["question_code"]: a for a in (await self._artifact("qav-answers")).get("answers", [])
            }
            # the answerer repeating itself despite the feedback makes this the last round
            stuck = bool(previous) and all(answers.get(q.code) == previous.get(q.code) for q in open_qs)
            feedback = await self._validate(
                open_qs, answers, final=stuck or round_no == self.spec.qav.max_rounds
            )
            previous = answers
        return await self._waiting()

    async def _record_questions(self) -> None:
        asked = {q.text for q in await self.store.list_questions(self.run.id, phase=self.spec.name)}
        for q in (await self._artifact("qav-questions")).get("questions", []):
            if q["text"] in asked:
                continue  # a resumed step: already recorded
            rec = await self.store.add_question(
                self.run.id,
                self.spec.name,
                text=q["text"],
                blocking=bool(q.get("blocking")),
                events=[
                    Event(
                        ev.QUESTION_ASKED,
                        {"text": q["text"], "blocking": bool(q.get("blocking"))},
                        phase=self.spec.name,
                    )
                ],
            )
            asked.add(rec.text)

    async def _question_input(self, q: QuestionRecord, feedback: str | None) -> dict[str, Any]:
        knowledge = [
            {"code": k.code, "question": k.text, "answer": k.answer}
            for k in await self.store.search_answers(self.run.id, q.text, limit=3)
            if k.id != q.id
        ]
        item: dict[str, Any] = {
            "code": q.code,
            "text": q.text,
            "blocking": q.blocking,
            "knowledge": knowledge,
        }
        if feedback:
            item["feedback"] = feedback
        return item

    async def _corpus(self) -> tuple[str, list[tuple[str, str]]]:
        """Lower-cased text of the run's artifacts and accepted answers, for grounding.

        Upstream artifacts are read once per phase run (:class:`PhaseArtifacts`) and each
        artifact is serialised once per attempt rather than once per answer round.
        """
        records = await self.artifacts.records(concurrent=True)
        for r in records:
            if r.id not in self._texts and not r.type.startswith("qav-"):
                self._texts[r.id] = json.dumps(r.content, ensure_ascii=False).lower()
        accepted = [
            (q.text, q.answer or "")
            for q in await self.store.list_questions(self.run.id)
            if q.status in (QuestionStatus.ACCEPTED, QuestionStatus.ANSWERED_BY_HUMAN)
        ]
        text = "\n".join(self._texts[r.id] for r in records if r.id in self._texts)
        text += "\n" + "\n".join(a for _, a in accepted).lower()
        return text, accepted

    async def _validate(
        self, open_qs: list[QuestionRecord], answers: dict[str, Any], *, final: bool
    ) -> dict[str, str]:
        """Score this round's answers; accept, retry (returns feedback by code), or settle."""
        corpus, accepted = await self._corpus()
        feedback: dict[str, str] = {}
        for q in open_qs:
            a = answers.get(q.code, {"answer": "", "confidence": 0.0, "evidence": []})
            scores = score_answer(q.text, a, corpus=corpus, accepted=accepted)
            confidence = float(a.get("confidence", 0.0))
            if accepts(scores, confidence, self.thresholds):
                await self._settle(q, QuestionStatus.ACCEPTED, a, confidence, scores.as_dict())
                accepted.append((q.text, str(a.get("answer", ""))))
            elif not final:
                low = [
                    f"{k} {v:.2f}"
                    for k, v in scores.as_dict().items()
                    if v < float(self.thresholds["thresholds"].get(k, 0))
                ]
                feedback[q.code] = (
                    f"rejected (confidence {confidence:.2f}; low: {', '.join(low) or '-'}): quote more evidence"
                )
            else:
                await self._unknown(q, a, confidence, scores.as_dict())
        return feedback

    async def _settle(
        self,
        q: QuestionRecord,
        status: QuestionStatus,
        a: dict[str, Any],
        confidence: float,
        scores: dict[str, float],
        *,
        assumption: str | None = None,
    ) -> None:
        events = [
            Event(
                ev.QUESTION_ANSWERED,
                {"code": q.code, "status": status.value, "confidence": confidence},
                phase=self.spec.name,
            )
        ]
        if assumption is not None:
            events.append(Event(ev.ASSUMPTION_RECORDED, {"question": q.code}, phase=self.spec.name))
        await self.store.answer_question(
            q.id,
            expected=[QuestionStatus.OPEN],
            status=status,
            answer=str(a.get("answer", "")),
            confidence=confidence,
            scores=scores,
            answered_by="agent",
            events=events,
            assumption=assumption,
        )

    async def _unknown(
        self, q: QuestionRecord, a: dict[str, Any], confidence: float, scores: dict[str, float]
    ) -> None:
        """No confident answer: wait for a human (policy) or record the assumption."""
        if self.run.policy is Policy.ASK_ON_BLOCKING and q.blocking:
            deadline = datetime.now(UTC) + timedelta(seconds=self.deps.settings.answer_deadline_seconds)
            await self.store.answer_question(
                q.id,
                expected=[QuestionStatus.OPEN],
                status=QuestionStatus.AWAITING_HUMAN,
                answer=str(a.get("answer", "")) or None,
                confidence=confidence,
                scores=scores,
                answered_by=None,
                deadline=deadline,
                events=[
                    Event(
                        ev.QUESTION_ASKED,
                        {"code": q.code, "to": "human", "deadline": deadline.isoformat()},
                        phase=self.spec.name,
                    )
                ],
            )
            await self.store.arm_timer(
                self.run.id,
                kind=_ANSWER_DEADLINE_KIND,
                key=q.id,
                fire_at=deadline,
                payload={"question_id": q.id},
            )
            return
        assumed = f"{q.text} — assumed: {a.get('answer') or 'the default in the artifacts'}"
        await self._settle(q, QuestionStatus.ASSUMED, a, confidence, scores, assumption=assumed)

    async def _waiting(self) -> DispatchOutcome | str:
        """AWAITING_INPUT while a human answer is due; expired deadlines settle as assumptions."""
        now = datetime.now(UTC)
        waiting = False
        for q in await self.store.list_questions(self.run.id, phase=self.spec.name):
            if q.status is not QuestionStatus.AWAITING_HUMAN:
                continue
            if q.deadline is not None and q.deadline <= now:
                await expire_question(self.deps, q)
            else:
                waiting = True
        return AWAITING_INPUT if waiting else DispatchOutcome.DONE
