"""What runs produce: artifacts, questions and assumptions, gate evaluations, tasks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ideamine._proto.ideamine.v1 import (
    artifact_pb2,
    clarification_pb2,
    common_pb2,
    gate_pb2,
    task_pb2,
)
from ideamine.convert.wire import (
    phase_or_unspecified,
    stub_enum,
    timestamp,
    to_struct,
)
from ideamine.enums import GateDecision
from ideamine.errors import decode_task_error
from ideamine.store.records import (
    ArtifactRecord,
    AssumptionRecord,
    GateEvaluationRecord,
    QuestionRecord,
    TaskRecord,
    WaiverRecord,
)

__all__ = [
    "artifact_to_proto",
    "assumption_to_proto",
    "gate_evaluation_to_proto",
    "question_to_proto",
    "task_to_proto",
]


def artifact_to_proto(a: ArtifactRecord, *, agent: str = "", content: bool = True) -> artifact_pb2.Artifact:
    """An artifact version; ``content=False`` leaves the document out (cheap listings)."""
    return artifact_pb2.Artifact(
        id=a.id,
        run_id=a.run_id,
        phase=phase_or_unspecified(a.phase),
        type=a.type,
        version=a.version,
        sha256=a.sha256,
        model=a.model,
        agent=agent,
        task_id=a.task_id or "",
        content=to_struct(a.content) if content else None,
        input_artifact_ids=list(a.input_artifact_ids),
        created_at=timestamp(a.created_at),
    )


def question_to_proto(q: QuestionRecord, *, assumption_id: str = "") -> clarification_pb2.Question:
    """A question with its current answer (if any)."""
    answer = None
    if q.answer is not None:
        human = (q.answered_by or "").startswith(("human:", "user:"))
        answer = clarification_pb2.Answer(
            text=q.answer,
            answered_by=q.answered_by or "",
            confidence=q.confidence if q.confidence is not None else (1.0 if human else 0.0),
            scores=None if human else clarification_pb2.AnswerScores(**_scores(q.scores)),
            answered_at=timestamp(q.updated_at),
        )
    return clarification_pb2.Question(
        id=q.id,
        run_id=q.run_id,
        phase=phase_or_unspecified(q.phase),
        text=q.text,
        blocking=q.blocking,
        round=int(q.scores.get("round", 1)) if isinstance(q.scores.get("round"), int | float) else 1,
        status=stub_enum(q.status),
        answer=answer,
        assumption_id=assumption_id,
        asked_at=timestamp(q.created_at),
        answer_deadline=timestamp(q.deadline),
    )


def _scores(scores: Mapping[str, Any]) -> dict[str, float]:
    names = ("grounding", "completeness", "specificity", "consistency")
    return {n: float(scores[n]) for n in names if isinstance(scores.get(n), int | float)}


def assumption_to_proto(a: AssumptionRecord) -> clarification_pb2.Assumption:
    """A recorded assumption."""
    return clarification_pb2.Assumption(
        id=a.id,
        run_id=a.run_id,
        phase=phase_or_unspecified(a.phase),
        question_id=a.question_id or "",
        text=a.text,
        created_at=timestamp(a.created_at),
    )


_MISSING = "missing artifact: "


def gate_evaluation_to_proto(
    g: GateEvaluationRecord, *, min_score: float, waiver: WaiverRecord | None = None
) -> gate_pb2.GateEvaluation:
    """A gate evaluation; stored finding strings become Findings (missing artifacts listed apart)."""
    metrics = []
    for m in g.metrics:
        threshold = m.get("threshold", 0.0)
        low, high = (threshold[0], threshold[1]) if isinstance(threshold, list) else (threshold, 0.0)
        value = m.get("value")
        metrics.append(
            gate_pb2.MetricResult(
                name=str(m.get("metric", m.get("name", ""))),
                value=float(value) if isinstance(value, int | float) else None,
                op=str(m.get("op", "")),
                threshold=float(low),
                threshold_high=float(high),
                weight=float(m.get("weight", 0.0)),
                required=bool(m.get("required", False)),
                passed=bool(m.get("passed", False)),
            )
        )
    failing = g.decision is GateDecision.FAIL
    findings = [
        gate_pb2.Finding(
            code="MISSING_ARTIFACT"
            if f.startswith(_MISSING)
            else ("GUARD" if f.startswith("guard ") else "METRIC"),
            severity=gate_pb2.FINDING_SEVERITY_HIGH if failing else gate_pb2.FINDING_SEVERITY_INFO,
            message=f,
        )
        for f in g.findings
    ]
    return gate_pb2.GateEvaluation(
        id=g.id,
        run_id=g.run_id,
        phase=phase_or_unspecified(g.phase),
        attempt=g.attempt,
        decision=stub_enum(g.decision),
        score=g.score,
        min_score=min_score,
        metrics=metrics,
        findings=findings,
        missing_artifact_types=[f.removeprefix(_MISSING) for f in g.findings if f.startswith(_MISSING)],
        waiver=None
        if waiver is None
        else gate_pb2.Waiver(
            waived_by=waiver.granted_by,
            reason=waiver.justification,
            waived_at=timestamp(waiver.created_at),
            expires_at=timestamp(waiver.expires_at),
            expired=waiver.expires_at is not None and waiver.expires_at <= datetime.now(UTC),
        ),
        evaluated_at=timestamp(g.created_at),
    )


def task_to_proto(
    t: TaskRecord, *, output_artifact_ids: Sequence[str] = (), usage: common_pb2.Usage | None = None
) -> task_pb2.Task:
    """A task; its error is the safe message and reason only (never a traceback)."""
    reason, _retryable, message = decode_task_error(t.error) if t.error else ("", False, "")
    return task_pb2.Task(
        id=t.id,
        run_id=t.run_id,
        phase=phase_or_unspecified(t.phase),
        agent=t.agent,
        agent_version=t.agent_version,
        task_key=t.task_key,
        attempt=t.attempt,
        status=stub_enum(t.status),
        idempotency_key=t.idempotency_key,
        input=to_struct({k: v for k, v in t.input.items() if k != "input_artifact_ids"}),
        input_artifact_ids=[str(a) for a in t.input.get("input_artifact_ids", [])],
        output_artifact_ids=list(output_artifact_ids),
        deliveries=t.attempt,
        host_id=t.worker or "",
        error=message,
        error_reason=reason,
        usage=usage,
        created_at=timestamp(t.created_at),
        started_at=timestamp(t.started_at),
        finished_at=timestamp(t.finished_at),
    )
