"""ClarificationService: a run's Q/A/V questions, human answers, and assumptions.

A human answer closes an open (or escalated) question; a closed question cannot be
answered again (FAILED_PRECONDITION). When the run was waiting for input and no blocking
question is left waiting for a human, the run continues.
"""

from __future__ import annotations

import asyncio

import grpc

from ideamine._proto.ideamine.v1 import clarification_pb2, clarification_pb2_grpc
from ideamine.convert import assumption_to_proto, enum_from_proto, optional_phase, question_to_proto
from ideamine.enums import QuestionStatus, RunStatus
from ideamine.errors import Conflict, NotFound
from ideamine.ids import is_id
from ideamine.store.records import Event, QuestionRecord
from orchestrator.auth import current_principal
from orchestrator.engine import events as ev
from orchestrator.servicers._common import App, paginate, require, resume_run, tenant_run

__all__ = ["ClarificationServicer", "ANSWERABLE"]

#: statuses in which a human may still answer a question
ANSWERABLE = (QuestionStatus.OPEN, QuestionStatus.AWAITING_HUMAN)


class ClarificationServicer(clarification_pb2_grpc.ClarificationServiceServicer):  # type: ignore[misc]
    """Questions, answers and assumptions of the caller's runs."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def ListQuestions(  # noqa: N802
        self, request: clarification_pb2.ListQuestionsRequest, context: grpc.aio.ServicerContext
    ) -> clarification_pb2.ListQuestionsResponse:
        """Questions oldest first, by phase and status."""
        run = await tenant_run(self.app, request.run_id)
        statuses = {
            enum_from_proto(QuestionStatus, s, field=f"statuses[{i}]") for i, s in enumerate(request.statuses)
        }
        questions, assumptions = await asyncio.gather(
            self.app.store.list_questions(run.id, phase=optional_phase(request.phase)),
            self.app.store.list_assumptions(run.id),
        )
        assumed = {a.question_id: a.id for a in assumptions if a.question_id}
        selected = [q for q in questions if not statuses or q.status in statuses]
        page, token = paginate(selected, request.page_size, request.page_token)
        return clarification_pb2.ListQuestionsResponse(
            questions=[question_to_proto(q, assumption_id=assumed.get(q.id, "")) for q in page],
            next_page_token=token,
        )

    async def _question(self, run_id: str, ref: str) -> QuestionRecord:
        """A question of the run by id, or by its code (``Q-003``) for people typing it."""
        if is_id(ref):
            q = await self.app.store.get_question(ref)
            if q.run_id == run_id:
                return q
        else:
            for q in await self.app.store.list_questions(run_id):
                if q.code == ref.upper():
                    return q
        raise NotFound(f"question {ref} not found", question_id=ref)

    async def AnswerQuestion(  # noqa: N802
        self, request: clarification_pb2.AnswerQuestionRequest, context: grpc.aio.ServicerContext
    ) -> clarification_pb2.AnswerQuestionResponse:
        """Record a human answer; resume a run that was waiting only for answers."""
        answer = require(request.answer, "answer", max_chars=20_000)
        run = await tenant_run(self.app, request.run_id)
        q = await self._question(run.id, require(request.question_id, "question_id", max_chars=100))
        if q.status not in ANSWERABLE:
            raise Conflict(
                f"question {q.code} is closed ({q.status.value}); only open questions can be answered",
                question_id=q.id,
            )
        who = current_principal().subject
        q = await self.app.store.answer_question(
            q.id,
            expected=ANSWERABLE,
            status=QuestionStatus.ANSWERED_BY_HUMAN,
            answer=answer,
            confidence=1.0,
            scores={},
            answered_by=f"human:{who}",
            events=[Event(ev.QUESTION_ANSWERED, {"question": q.code, "by": f"human:{who}"}, phase=q.phase)],
        )
        self.app.wake(run.id)
        run = await self.app.store.get_run(run.id)
        if run.status is RunStatus.AWAITING_INPUT:
            waiting = [
                other
                for other in await self.app.store.list_questions(run.id)
                if other.blocking and other.status is QuestionStatus.AWAITING_HUMAN
            ]
            if not waiting:
                try:
                    await resume_run(
                        self.app, run, allowed=[RunStatus.AWAITING_INPUT], payload={"answered": q.code}
                    )
                except Conflict:
                    pass  # the run moved on by itself meanwhile (deadline, another answer)
        return clarification_pb2.AnswerQuestionResponse(question=question_to_proto(q))

    async def ListAssumptions(  # noqa: N802
        self, request: clarification_pb2.ListAssumptionsRequest, context: grpc.aio.ServicerContext
    ) -> clarification_pb2.ListAssumptionsResponse:
        """Assumptions oldest first, optionally of one phase."""
        run = await tenant_run(self.app, request.run_id)
        phase = optional_phase(request.phase)
        items = [
            a for a in await self.app.store.list_assumptions(run.id) if phase is None or a.phase == phase
        ]
        page, token = paginate(items, request.page_size, request.page_token)
        return clarification_pb2.ListAssumptionsResponse(
            assumptions=[assumption_to_proto(a) for a in page], next_page_token=token
        )
