"""Questions, answers, assumptions, gate evaluations and waivers (SQLite)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ideamine.enums import GateDecision, QuestionStatus
from ideamine.ids import new_id
from ideamine.store._shared import check_expected, format_code, search_terms, to_record
from ideamine.store.records import (
    JSON,
    AssumptionRecord,
    Event,
    GateEvaluationRecord,
    QuestionRecord,
    WaiverRecord,
)
from ideamine.store.sqlite._base import SqliteBase, Tx, where

__all__ = ["QavMixin"]


async def _next_code(tx: Tx, table: str, run_id: str, prefix: str) -> str:
    """The next per-run code; safe because the writing transaction holds the write lock."""
    row = await tx.one(f"SELECT COUNT(*) AS n FROM {table} WHERE run_id = ?", (run_id,))
    return format_code(prefix, int(row["n"] if row else 0) + 1)


async def _insert_for_run(
    tx: Tx, table: str, run_id: str, values: dict[str, Any], events: Sequence[Event]
) -> dict[str, Any]:
    """Insert a run-owned row (id and created_at filled in) with its events; return the row."""
    await tx.get("runs", run_id, what="run")
    row_id = new_id()
    await tx.insert(table, {"id": row_id, "run_id": run_id, **values, "created_at": tx.now})
    await tx.append_events(run_id, events)
    return await tx.get(table, row_id, what=table)


async def _list_for_run(tx: Tx, table: str, run_id: str, phase: str | None = None) -> list[dict[str, Any]]:
    """Rows of a run (optionally of one phase), oldest first."""
    cond, params = where({"run_id": run_id, "phase": phase})
    return await tx.all(f"SELECT * FROM {table} WHERE {cond} ORDER BY created_at, id", params)


async def _insert_assumption(
    tx: Tx, run_id: str, phase: str, text: str, question_id: str | None
) -> dict[str, Any]:
    """Insert an assumption numbered ASM-001 … within the run; return the row."""
    values = {
        "phase": phase,
        "code": await _next_code(tx, "assumptions", run_id, "ASM"),
        "question_id": question_id,
        "text": text,
    }
    return await _insert_for_run(tx, "assumptions", run_id, values, ())


class QavMixin(SqliteBase):
    """The Q/A/V loop's records and the gate's."""

    async def add_question(
        self, run_id: str, phase: str, *, text: str, blocking: bool, events: Sequence[Event] = ()
    ) -> QuestionRecord:
        """Add an OPEN question numbered Q-001, Q-002 … within the run."""
        async with self._tx() as tx:
            values = {
                "phase": phase,
                "code": await _next_code(tx, "questions", run_id, "Q"),
                "text": text,
                "blocking": blocking,
                "status": QuestionStatus.OPEN,
                "scores": {},
                "updated_at": tx.now,
            }
            row = await _insert_for_run(tx, "questions", run_id, values, events)
        return to_record(QuestionRecord, row)

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
        """Guarded answer/escalation; an accepted answer joins the FTS knowledge base (trigger).

        ``assumption`` is recorded in the same transaction (see the protocol).
        """
        async with self._tx() as tx:
            row = await tx.get("questions", question_id, what="question")
            check_expected(QuestionStatus(row["status"]), expected, what="question", ident=question_id)
            values: dict[str, Any] = {
                "status": status,
                "answer": answer,
                "confidence": confidence,
                "scores": scores,
                "answered_by": answered_by,
                "updated_at": tx.now,
            }
            if deadline is not None:
                values["deadline"] = deadline
            await tx.update("questions", values, "id = ?", (question_id,))
            if assumption is not None:
                await _insert_assumption(tx, row["run_id"], row["phase"], assumption, question_id)
            await tx.append_events(row["run_id"], events)
            return to_record(QuestionRecord, await tx.get("questions", question_id, what="question"))

    async def list_questions(self, run_id: str, *, phase: str | None = None) -> list[QuestionRecord]:
        """Questions of a run in the order they were asked."""
        async with self._tx(write=False) as tx:
            rows = await _list_for_run(tx, "questions", run_id, phase)
        return [to_record(QuestionRecord, r) for r in rows]

    async def get_question(self, question_id: str) -> QuestionRecord:
        """One question; NotFound when missing."""
        async with self._tx(write=False) as tx:
            return to_record(QuestionRecord, await tx.get("questions", question_id, what="question"))

    async def search_answers(self, run_id: str, query: str, *, limit: int = 5) -> list[QuestionRecord]:
        """Best-matching accepted answers of the run (FTS5 bm25 over question + answer)."""
        terms = search_terms(query)
        if not terms:
            return []
        match = " OR ".join(f'"{t}"' for t in terms)
        async with self._tx(write=False) as tx:
            rows = await tx.all(
                "SELECT q.* FROM answers_fts f JOIN questions q ON q.id = f.question_id "
                "WHERE answers_fts MATCH ? AND f.run_id = ? ORDER BY bm25(answers_fts), q.id LIMIT ?",
                (match, run_id, limit),
            )
        return [to_record(QuestionRecord, r) for r in rows]

    async def add_assumption(
        self, run_id: str, phase: str, *, text: str, question_id: str | None, events: Sequence[Event] = ()
    ) -> AssumptionRecord:
        """Record an assumption numbered ASM-001 … within the run."""
        async with self._tx() as tx:
            if question_id is not None:
                await tx.get("questions", question_id, what="question")
            row = await _insert_assumption(tx, run_id, phase, text, question_id)
            await tx.append_events(run_id, events)
        return to_record(AssumptionRecord, row)

    async def list_assumptions(self, run_id: str) -> list[AssumptionRecord]:
        """Assumptions of a run, oldest first."""
        async with self._tx(write=False) as tx:
            rows = await _list_for_run(tx, "assumptions", run_id)
        return [to_record(AssumptionRecord, r) for r in rows]

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
            "decision": decision,
            "metrics": metrics,
            "findings": findings,
        }
        async with self._tx() as tx:
            row = await _insert_for_run(tx, "gate_evaluations", run_id, values, events)
        return to_record(GateEvaluationRecord, row)

    async def list_gate_evaluations(
        self, run_id: str, *, phase: str | None = None
    ) -> list[GateEvaluationRecord]:
        """Evaluations of a run, oldest first."""
        async with self._tx(write=False) as tx:
            rows = await _list_for_run(tx, "gate_evaluations", run_id, phase)
        return [to_record(GateEvaluationRecord, r) for r in rows]

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
        async with self._tx() as tx:
            row = await _insert_for_run(tx, "waivers", run_id, values, events)
        return to_record(WaiverRecord, row)

    async def list_waivers(self, run_id: str) -> list[WaiverRecord]:
        """Waivers of a run, oldest first."""
        async with self._tx(write=False) as tx:
            rows = await _list_for_run(tx, "waivers", run_id)
        return [to_record(WaiverRecord, r) for r in rows]
