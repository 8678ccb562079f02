"""Questions, answers, assumptions, gate evaluations and waivers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ideamine.enums import GateDecision, QuestionStatus
from ideamine.errors import NotFound
from ideamine.ids import new_id
from ideamine.store._shared import (
    ACCEPTED_ANSWER_STATUSES,
    check_expected,
    format_code,
    search_terms,
    to_record,
    utcnow,
)
from ideamine.store.postgres.db import Conn, StoreBase
from ideamine.store.postgres.events import append_events
from ideamine.store.postgres.runs import require_id
from ideamine.store.records import (
    JSON,
    AssumptionRecord,
    Event,
    GateEvaluationRecord,
    QuestionRecord,
    WaiverRecord,
)

__all__ = ["QavMixin"]

#: the expression the GIN index ``questions_answers_fts`` is built on (keep them identical)
_DOCUMENT = "to_tsvector('english', text || ' ' || coalesce(answer, ''))"

_SEARCH = f"""
SELECT *, ts_rank({_DOCUMENT}, q) AS rank
FROM questions, websearch_to_tsquery('english', $2) AS q
WHERE run_id = $1 AND status = ANY($3::text[]) AND {_DOCUMENT} @@ q
ORDER BY rank DESC, id LIMIT $4
"""


async def _insert_for_run(
    conn: Conn,
    table: str,
    run_id: str,
    values: dict[str, Any],
    events: Sequence[Event],
    now: datetime,
    code_prefix: str | None = None,
) -> Any:
    """Insert a run-owned row (id, created_at and optionally a per-run code filled in) with its events.

    The per-run code counts rows under a ``FOR NO KEY UPDATE`` lock on the run, so two
    writers never take the same number, while task inserts (which only need a key-share
    lock on the run for their foreign key) are not blocked.
    """
    lock = "FOR NO KEY UPDATE" if code_prefix else "FOR KEY SHARE"
    if await conn.fetchval(f"SELECT 1 FROM runs WHERE id = $1 {lock}", run_id) is None:
        raise NotFound(f"run {run_id} not found", run_id=run_id)
    row = {"id": new_id(), "run_id": run_id, **values, "created_at": now}
    if code_prefix:
        count = await conn.fetchval(f"SELECT count(*) FROM {table} WHERE run_id = $1", run_id)
        row["code"] = format_code(code_prefix, count + 1)
    cols = ", ".join(row)
    marks = ", ".join(f"${i}" for i in range(1, len(row) + 1))
    inserted = await conn.fetchrow(
        f"INSERT INTO {table} ({cols}) VALUES ({marks}) RETURNING *", *row.values()
    )
    await append_events(conn, run_id, events, now)
    return inserted


class QavMixin(StoreBase):
    """The Q/A/V loop's records and the gate's."""

    async def _insert(
        self,
        table: str,
        run_id: str,
        values: dict[str, Any],
        events: Sequence[Event],
        code_prefix: str | None = None,
    ) -> Any:
        require_id(run_id, "run")
        now = utcnow()
        return await self._db.transaction(
            lambda conn: _insert_for_run(conn, table, run_id, values, events, now, code_prefix)
        )

    async def _list(self, table: str, run_id: str, phase: str | None = None) -> list[Any]:
        require_id(run_id, "run")
        return await self._db.fetch(
            f"SELECT * FROM {table} WHERE run_id = $1 AND ($2::text IS NULL OR phase = $2) ORDER BY created_at, id",
            run_id,
            phase,
        )

    async def add_question(
        self, run_id: str, phase: str, *, text: str, blocking: bool, events: Sequence[Event] = ()
    ) -> QuestionRecord:
        """Add an OPEN question numbered Q-001, Q-002 … within the run."""
        values = {
            "phase": phase,
            "text": text,
            "blocking": blocking,
            "status": QuestionStatus.OPEN.value,
            "scores": {},
            "updated_at": utcnow(),
        }
        return to_record(QuestionRecord, await self._insert("questions", run_id, values, events, "Q"))

    async def answer_question(
        self,
        question_id: str,
        *,
        expected: Sequence[QuestionStatus],
        status: QuestionStatus,
        answer: str | None,
        confidence: float | None,
        scores: JSON,
        answered_by: str | None,
        deadline: datetime | None = None,
        events: Sequence[Event] = (),
        assumption: str | None = None,
    ) -> QuestionRecord:
        """Guarded answer/escalation; an accepted answer joins the searchable knowledge base.

        ``assumption`` is recorded in the same transaction (see the protocol).
        """
        require_id(question_id, "question")
        now = utcnow()

        async def tx(conn: Conn) -> Any:
            cur = await conn.fetchrow(
                "SELECT run_id, status FROM questions WHERE id = $1 FOR UPDATE", question_id
            )
            if cur is None:
                raise NotFound(f"question {question_id} not found", question_id=question_id)
            check_expected(QuestionStatus(cur["status"]), expected, what="question", ident=question_id)
            row = await conn.fetchrow(
                """UPDATE questions SET status = $2, answer = $3, confidence = $4, scores = $5, answered_by = $6,
                       deadline = COALESCE($7, deadline), updated_at = $8
                   WHERE id = $1 RETURNING *""",
                question_id,
                status.value,
                answer,
                confidence,
                scores,
                answered_by,
                deadline,
                now,
            )
            if assumption is not None:
                values = {"phase": row["phase"], "question_id": question_id, "text": assumption}
                await _insert_for_run(conn, "assumptions", cur["run_id"], values, (), now, "ASM")
            await append_events(conn, cur["run_id"], events, now)
            return row

        return to_record(QuestionRecord, await self._db.transaction(tx))

    async def list_questions(self, run_id: str, *, phase: str | None = None) -> list[QuestionRecord]:
        """Questions of a run in the order they were asked."""
        return [to_record(QuestionRecord, r) for r in await self._list("questions", run_id, phase)]

    async def get_question(self, question_id: str) -> QuestionRecord:
        """One question; NotFound when missing."""
        require_id(question_id, "question")
        row = await self._db.fetchrow("SELECT * FROM questions WHERE id = $1", question_id)
        if row is None:
            raise NotFound(f"question {question_id} not found", question_id=question_id)
        return to_record(QuestionRecord, row)

    async def search_answers(self, run_id: str, query: str, *, limit: int = 5) -> list[QuestionRecord]:
        """Best-matching accepted answers of the run (any query word may match; ranked by ts_rank)."""
        require_id(run_id, "run")
        terms = search_terms(query)
        if not terms:
            return []
        rows = await self._db.fetch(
            _SEARCH, run_id, " or ".join(terms), list(ACCEPTED_ANSWER_STATUSES), limit
        )
        return [to_record(QuestionRecord, r) for r in rows]

    async def add_assumption(
        self, run_id: str, phase: str, *, text: str, question_id: str | None, events: Sequence[Event] = ()
    ) -> AssumptionRecord:
        """Record an assumption numbered ASM-001 … within the run."""
        if question_id is not None:
            require_id(question_id, "question")
            if await self._db.fetchrow("SELECT 1 FROM questions WHERE id = $1", question_id) is None:
                raise NotFound(f"question {question_id} not found", question_id=question_id)
        values = {"phase": phase, "question_id": question_id, "text": text}
        return to_record(AssumptionRecord, await self._insert("assumptions", run_id, values, events, "ASM"))

    async def list_assumptions(self, run_id: str) -> list[AssumptionRecord]:
        """Assumptions of a run, oldest first."""
        return [to_record(AssumptionRecord, r) for r in await self._list("assumptions", run_id)]

    # ------------------------------------------------------------------- gates
    async def record_gate_evaluation(
        self,
        run_id: str,
        phase: str,
        *,
        attempt: int,
        score: float,
        decision: GateDecision,
        metrics: list[JSON],
        findings: list[str],
        events: Sequence[Event] = (),
    ) -> GateEvaluationRecord:
        """Store one evaluation with its events."""
        values = {
            "phase": phase,
            "attempt": attempt,
            "score": score,
            "decision": decision.value,
            "metrics": metrics,
            "findings": findings,
        }
        return to_record(GateEvaluationRecord, await self._insert("gate_evaluations", run_id, values, events))

    async def list_gate_evaluations(
        self, run_id: str, *, phase: str | None = None
    ) -> list[GateEvaluationRecord]:
        """Evaluations of a run, oldest first."""
        return [
            to_record(GateEvaluationRecord, r) for r in await self._list("gate_evaluations", run_id, phase)
        ]

    async def add_waiver(
        self,
        run_id: str,
        phase: str,
        *,
        granted_by: str,
        justification: str,
        expires_at: datetime | None,
        events: Sequence[Event] = (),
    ) -> WaiverRecord:
        """Record an admin's waiver with its events."""
        values = {
            "phase": phase,
            "granted_by": granted_by,
            "justification": justification,
            "expires_at": expires_at,
        }
        return to_record(WaiverRecord, await self._insert("waivers", run_id, values, events))

    async def list_waivers(self, run_id: str) -> list[WaiverRecord]:
        """Waivers of a run, oldest first."""
        return [to_record(WaiverRecord, r) for r in await self._list("waivers", run_id)]
