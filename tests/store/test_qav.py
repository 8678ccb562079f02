"""Contract: questions, answers and their search, assumptions, gates, waivers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ideamine.enums import GateDecision, QuestionStatus
from ideamine.errors import Conflict, NotFound
from ideamine.ids import new_id
from ideamine.store.base import RunStore
from ideamine.store.records import Event
from tests.store.conftest import make_run

_Q = QuestionStatus
SCORES = {"grounding": 0.9, "completeness": 0.8, "specificity": 0.85, "consistency": 0.95}


async def test_questions_get_per_run_codes(store: RunStore) -> None:
    a, b = await make_run(store), await make_run(store)
    q1 = await store.add_question(
        a.id, "prd", text="Who pays?", blocking=True, events=[Event("question.asked")]
    )
    q2 = await store.add_question(a.id, "prd", text="Which market?", blocking=False)
    other = await store.add_question(b.id, "prd", text="Who pays?", blocking=False)
    assert (q1.code, q2.code, other.code) == ("Q-001", "Q-002", "Q-001")
    assert (q1.status, q1.blocking, q1.answer, q1.scores) == (_Q.OPEN, True, None, {})
    assert await store.list_questions(a.id) == [q1, q2]
    assert await store.list_questions(a.id, phase="intake") == []
    assert await store.get_question(q1.id) == q1
    with pytest.raises(NotFound):
        await store.get_question(new_id())
    with pytest.raises(NotFound):
        await store.add_question(new_id(), "prd", text="?", blocking=False)


async def test_answer_question_is_guarded(store: RunStore) -> None:
    run = await make_run(store)
    q = await store.add_question(run.id, "prd", text="Who pays?", blocking=True)
    deadline = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    waiting = await store.answer_question(
        q.id,
        expected=[_Q.OPEN],
        status=_Q.AWAITING_HUMAN,
        answer=None,
        confidence=0.4,
        scores=SCORES,
        answered_by=None,
        deadline=deadline,
    )
    assert (waiting.status, waiting.deadline, waiting.scores) == (_Q.AWAITING_HUMAN, deadline, SCORES)
    with pytest.raises(Conflict):
        await store.answer_question(
            q.id,
            expected=[_Q.OPEN],
            status=_Q.ACCEPTED,
            answer="x",
            confidence=1.0,
            scores={},
            answered_by="agent",
        )
    answered = await store.answer_question(
        q.id,
        expected=[_Q.AWAITING_HUMAN],
        status=_Q.ANSWERED_BY_HUMAN,
        answer="Pet owners pay per booking",
        confidence=1.0,
        scores={},
        answered_by="human:alice",
        events=[Event("question.answered")],
    )
    assert (answered.answer, answered.answered_by, answered.deadline) == (
        "Pet owners pay per booking",
        "human:alice",
        deadline,
    )
    assert answered.updated_at >= q.updated_at
    assert (await store.list_events(run.id))[-1].type == "question.answered"


async def test_search_answers_finds_only_accepted_answers_of_the_run(store: RunStore) -> None:
    run, other = await make_run(store), await make_run(store)

    async def ask(run_id: str, text: str, answer: str, status: QuestionStatus) -> str:
        q = await store.add_question(run_id, "prd", text=text, blocking=False)
        await store.answer_question(
            q.id,
            expected=[_Q.OPEN],
            status=status,
            answer=answer,
            confidence=0.9,
            scores=SCORES,
            answered_by="agent",
        )
        return q.id

    pricing = await ask(run.id, "How is pricing structured?", "A subscription with a free tier", _Q.ACCEPTED)
    human = await ask(run.id, "Which regions first?", "Launch in Lisbon then Porto", _Q.ANSWERED_BY_HUMAN)
    await ask(run.id, "Is there a subscription for sitters?", "Unsure, maybe a subscription", _Q.ASSUMED)
    await ask(other.id, "Pricing?", "A subscription for everyone", _Q.ACCEPTED)
    unanswered = await store.add_question(
        run.id, "prd", text="What about subscription refunds?", blocking=False
    )

    found = await store.search_answers(run.id, "subscription")
    assert [q.id for q in found] == [pricing]
    assert [q.id for q in await store.search_answers(run.id, "Lisbon")] == [human]
    assert {q.id for q in await store.search_answers(run.id, "lisbon OR subscription")} == {pricing, human}
    assert await store.search_answers(run.id, "subscription", limit=0) == []
    assert await store.search_answers(run.id, "kangaroo") == []
    assert await store.search_answers(run.id, '"unbalanced (quote* AND') == []  # never a syntax error
    assert await store.search_answers(run.id, "   ") == []
    # accepting later adds it to the knowledge base
    await store.answer_question(
        unanswered.id,
        expected=[_Q.OPEN],
        status=_Q.ACCEPTED,
        answer="Refunds within 14 days",
        confidence=0.8,
        scores=SCORES,
        answered_by="agent",
    )
    assert [q.id for q in await store.search_answers(run.id, "refunds")] == [unanswered.id]


async def test_assumptions_get_per_run_codes(store: RunStore) -> None:
    run = await make_run(store)
    q = await store.add_question(run.id, "prd", text="Who pays?", blocking=False)
    a1 = await store.add_assumption(
        run.id, "prd", text="Owners pay", question_id=q.id, events=[Event("assumption.recorded")]
    )
    a2 = await store.add_assumption(run.id, "bizdev", text="EU first", question_id=None)
    assert (a1.code, a2.code, a1.question_id, a2.question_id) == ("ASM-001", "ASM-002", q.id, None)
    assert await store.list_assumptions(run.id) == [a1, a2]
    with pytest.raises(NotFound):
        await store.add_assumption(run.id, "prd", text="x", question_id=new_id())


async def test_an_assumed_answer_records_its_assumption_in_the_same_transaction(store: RunStore) -> None:
    run = await make_run(store)
    await store.add_assumption(run.id, "bizdev", text="EU first", question_id=None)
    q = await store.add_question(run.id, "prd", text="Who pays?", blocking=False)
    settle = {
        "status": QuestionStatus.ASSUMED,
        "answer": "the owner",
        "confidence": 0.4,
        "scores": {},
        "answered_by": "agent",
        "assumption": "Who pays? — assumed: the owner",
        "events": [Event("question.answered", phase="prd"), Event("assumption.recorded", phase="prd")],
    }
    answered = await store.answer_question(q.id, expected=[QuestionStatus.OPEN], **settle)
    assert answered.status is QuestionStatus.ASSUMED
    [_, assumed] = await store.list_assumptions(run.id)
    assert (assumed.code, assumed.phase, assumed.question_id, assumed.text) == (
        "ASM-002",
        "prd",
        q.id,
        "Who pays? — assumed: the owner",
    )
    types = [e.type for e in await store.list_events(run.id)]
    assert types[-2:] == ["question.answered", "assumption.recorded"]
    with pytest.raises(Conflict):  # settled already: no second assumption, no events
        await store.answer_question(q.id, expected=[QuestionStatus.OPEN], **settle)
    assert len(await store.list_assumptions(run.id)) == 2
    assert [e.type for e in await store.list_events(run.id)] == types


async def test_gate_evaluations_and_waivers(store: RunStore) -> None:
    run = await make_run(store)
    metrics = [{"name": "coverage", "value": 0.6, "threshold": 0.9, "passed": False}]
    first = await store.record_gate_evaluation(
        run.id,
        "prd",
        attempt=1,
        score=55.0,
        decision=GateDecision.FAIL,
        metrics=metrics,
        findings=["stories without acceptance criteria: ST-004"],
        events=[Event("gate.failed", phase="prd")],
    )
    second = await store.record_gate_evaluation(
        run.id, "prd", attempt=2, score=88.0, decision=GateDecision.WARN, metrics=[], findings=[]
    )
    await store.record_gate_evaluation(
        run.id, "intake", attempt=1, score=100.0, decision=GateDecision.PASS, metrics=[], findings=[]
    )
    assert (first.decision, first.metrics, first.findings) == (GateDecision.FAIL, metrics, first.findings)
    assert await store.list_gate_evaluations(run.id, phase="prd") == [first, second]
    assert len(await store.list_gate_evaluations(run.id)) == 3
    expires = datetime.now(UTC) + timedelta(days=7)
    waiver = await store.add_waiver(
        run.id, "prd", granted_by="admin:bob", justification="accepted risk", expires_at=expires
    )
    assert waiver.expires_at is not None and abs(waiver.expires_at - expires) < timedelta(milliseconds=1)
    assert await store.list_waivers(run.id) == [waiver]
    with pytest.raises(NotFound):
        await store.add_waiver(new_id(), "prd", granted_by="a", justification="b", expires_at=None)
