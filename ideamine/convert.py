"""Proto <-> domain conversions (the only module that does them).

Enums and phase names first, then records → messages (and the few messages → domain
values a servicer needs). A Python enum ``RunStatus.AWAITING_INPUT``
is the proto value ``RUN_STATUS_AWAITING_INPUT`` (type name in upper snake case as the
prefix, as buf's ENUM_VALUE_PREFIX rule demands); a catalogue phase ``"story-loop"`` is
``PHASE_STORY_LOOP``. The mapping is computed from the generated descriptors, so there is
no second table to keep in sync, and ``tests/contracts`` pins that both sides list the
same members.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from google.protobuf import json_format, struct_pb2, timestamp_pb2  # type: ignore[import-untyped]

from ideamine._proto.ideamine.v1 import (
    agent_host_pb2,
    artifact_pb2,
    budget_pb2,
    catalog_pb2,
    checkpoint_pb2,
    clarification_pb2,
    common_pb2,
    gate_pb2,
    phase_pb2,
    run_pb2,
    task_pb2,
)
from ideamine.catalogue import PhaseSpec
from ideamine.enums import GateDecision
from ideamine.errors import InvalidInput, decode_task_error
from ideamine.plugins import AgentEntry
from ideamine.runfile import RunRequest
from ideamine.store.records import (
    AgentHostRecord,
    ArtifactRecord,
    AssumptionRecord,
    BudgetLimits,
    BudgetScopeRecord,
    CheckpointRecord,
    GateEvaluationRecord,
    LedgerRecord,
    LLMCallRecord,
    PhaseExecutionRecord,
    QuestionRecord,
    RunRecord,
    TaskRecord,
    WaiverRecord,
)

__all__ = [
    "enum_prefix",
    "enum_to_proto",
    "enum_from_proto",
    "phase_to_proto",
    "phase_from_proto",
    "timestamp",
    "to_struct",
    "from_struct",
    "message_to_json",
    "phase_or_unspecified",
    "optional_phase",
    "budget_to_proto",
    "budget_from_proto",
    "usage_to_proto",
    "run_request_dict",
    "run_violation_field",
    "run_request_to_proto",
    "run_to_proto",
    "event_to_proto",
    "phase_execution_to_proto",
    "artifact_to_proto",
    "question_to_proto",
    "assumption_to_proto",
    "gate_evaluation_to_proto",
    "budget_scope_to_proto",
    "checkpoint_to_proto",
    "phase_definition_to_proto",
    "agent_definition_to_proto",
    "agent_definition_to_dict",
    "agent_definition_from_dict",
    "host_status_from_proto",
    "host_from_proto",
    "task_to_proto",
]

E = TypeVar("E", bound=StrEnum)

_PHASE_PREFIX = "PHASE_"


def enum_prefix(type_name: str) -> str:
    """The value prefix of a proto enum: ``RunStatus`` → ``RUN_STATUS_``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type_name).upper() + "_"


def _proto_enum(type_name: str) -> object:
    try:
        return common_pb2.DESCRIPTOR.enum_types_by_name[type_name]
    except KeyError:
        raise TypeError(f"{type_name} has no proto enum in ideamine/v1/common.proto") from None


def enum_to_proto(value: StrEnum) -> int:
    """The proto number of a domain enum member, e.g. ``RunStatus.RUNNING`` → 2."""
    name = type(value).__name__
    desc = _proto_enum(name)
    return int(desc.values_by_name[enum_prefix(name) + value.value].number)  # type: ignore[attr-defined]


def enum_from_proto(cls: type[E], number: int, *, field: str = "") -> E:
    """The domain member for a proto number; ``*_UNSPECIFIED`` and unknown numbers are refused.

    Args:
        cls: the domain enum, e.g. :class:`ideamine.enums.RunStatus`.
        number: the value received on the wire.
        field: request field name, reported in the field violation.

    Raises:
        InvalidInput: the number is unspecified or not a member.
    """
    desc = _proto_enum(cls.__name__)
    value = desc.values_by_number.get(number)  # type: ignore[attr-defined]
    prefix = enum_prefix(cls.__name__)
    if value is None or value.number == 0:
        raise InvalidInput(f"{field or cls.__name__} must be a valid {cls.__name__}", field=field or None)
    return cls(value.name.removeprefix(prefix))


def phase_to_proto(name: str) -> int:
    """The ``Phase`` number of a catalogue phase name: ``"story-loop"`` → ``PHASE_STORY_LOOP``."""
    try:
        return int(common_pb2.Phase.Value(_PHASE_PREFIX + name.upper().replace("-", "_")))
    except ValueError:
        raise InvalidInput(f"unknown phase {name!r}", field="phase") from None


def phase_from_proto(number: int, *, field: str = "phase") -> str:
    """The catalogue phase name of a ``Phase`` number: ``PHASE_STORY_LOOP`` → ``"story-loop"``.

    Raises:
        InvalidInput: the number is ``PHASE_UNSPECIFIED`` or unknown.
    """
    value = common_pb2.Phase.DESCRIPTOR.values_by_number.get(number)
    if value is None or value.number == 0:
        raise InvalidInput(f"{field} must name a phase", field=field)
    return str(value.name).removeprefix(_PHASE_PREFIX).lower().replace("_", "-")


# ---------------------------------------------------------------------------------------
# Records ↔ messages. Servicers validate, call the store, and convert with these; nothing
# else builds or reads a proto message field by field.
# ---------------------------------------------------------------------------------------

_HOST_STATES = {"UP": "HOST_STATE_SERVING", "DRAINING": "HOST_STATE_DRAINING", "DOWN": "HOST_STATE_STOPPED"}


def timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    """A proto Timestamp of an aware datetime (None stays None, leaving the field unset)."""
    if value is None:
        return None
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value)
    return ts


def to_struct(value: Mapping[str, Any] | None) -> struct_pb2.Struct:
    """A ``google.protobuf.Struct`` of a JSON object."""
    s = struct_pb2.Struct()
    if value:
        s.update(dict(value))
    return s


def from_struct(value: struct_pb2.Struct) -> dict[str, Any]:
    """The JSON object of a Struct (numbers come back as floats, as JSON has them)."""
    return dict(json_format.MessageToDict(value))


def _wire(value: StrEnum) -> Any:
    """:func:`enum_to_proto`, typed as the generated stubs' enum types (they take the number)."""
    return enum_to_proto(value)


def message_to_json(message: Any) -> str:
    """A message as indented JSON with proto field names (CLI output)."""
    return str(json_format.MessageToJson(message, preserving_proto_field_name=True, indent=2))


def phase_or_unspecified(name: str | None) -> Any:
    """``phase_to_proto`` for stored names, PHASE_UNSPECIFIED for None or a name the proto lacks.

    Typed ``Any`` because the generated stubs type enum fields by their enum class.
    """
    if not name:
        return 0
    try:
        return phase_to_proto(name)
    except InvalidInput:
        return 0


def optional_phase(number: int, *, field: str = "phase") -> str | None:
    """A phase filter: ``PHASE_UNSPECIFIED`` means "all" (None), any other number must be a phase."""
    return None if number == 0 else phase_from_proto(number, field=field)


def budget_to_proto(limits: BudgetLimits) -> common_pb2.Budget:
    """Limits as a Budget message; an unlimited dimension is 0."""
    return common_pb2.Budget(
        max_tokens=limits.tokens or 0,
        max_usd=limits.usd or 0.0,
        max_wall_clock_seconds=int(limits.wall_clock_seconds or 0),
    )


def budget_from_proto(budget: common_pb2.Budget) -> BudgetLimits:
    """A Budget message as limits; 0 means unlimited/default (None)."""
    return BudgetLimits(
        tokens=budget.max_tokens or None,
        usd=budget.max_usd or None,
        wall_clock_seconds=float(budget.max_wall_clock_seconds) or None,
    )


def usage_to_proto(calls: Iterable[LLMCallRecord], *, wall_clock_seconds: float = 0.0) -> common_pb2.Usage:
    """Settled usage summed over model calls."""
    usage = common_pb2.Usage(wall_clock_seconds=wall_clock_seconds)
    for c in calls:
        usage.input_tokens += c.input_tokens
        usage.output_tokens += c.output_tokens
        usage.cost_usd += c.cost_usd
        usage.llm_calls += 1
    return usage


def run_request_dict(run: run_pb2.Run) -> dict[str, Any]:
    """The run-file mapping of a CreateRun ``run`` message, for ``parse_run_request``.

    Unset optional fields are left out, so the run-file rules (defaults, ranges) apply
    unchanged; proto field names are mapped back with :func:`run_violation_field`.
    """
    data: dict[str, Any] = {"idea": run.idea}
    if run.title:
        data["title"] = run.title
    if run.HasField("constraints"):
        c = run.constraints
        data["constraints"] = {
            "compliance": list(c.compliance),
            "target_users": list(c.target_users),
            "tech_preferences": list(c.tech_preferences),
            **({"budget_usd": c.budget_usd} if c.budget_usd else {}),
            **({"timeline": c.timeline} if c.timeline else {}),
        }
    if run.HasField("budget"):
        b = run.budget
        data["budget"] = {
            k: v
            for k, v in (
                ("max_tokens", b.max_tokens),
                ("max_usd", b.max_usd),
                ("max_wall_clock_minutes", b.max_wall_clock_seconds / 60 if b.max_wall_clock_seconds else 0),
            )
            if v
        }
    if run.policy:
        value = common_pb2.Policy.DESCRIPTOR.values_by_number.get(run.policy)
        # an unknown number is passed on as is, so the run-file rules name the field
        data["policy"] = value.name.removeprefix(enum_prefix("Policy")) if value is not None else run.policy
    return data


_RUN_FIELD_RENAMES = {
    "phases": "requested_phases",
    "budget.max_wall_clock_minutes": "budget.max_wall_clock_seconds",
}


def run_violation_field(field: str) -> str:
    """The CreateRun field path of a run-file field named by ``parse_run_request``."""
    return "run." + _RUN_FIELD_RENAMES.get(field, field) if field else "run"


def run_request_to_proto(request: RunRequest) -> run_pb2.Run:
    """A validated run request (e.g. a parsed run file) as the ``run`` of CreateRun."""
    c = request.constraints
    budget = request.budget
    return run_pb2.Run(
        title=request.title,
        idea=request.idea,
        constraints=run_pb2.Constraints(
            budget_usd=float(c.get("budget_usd") or 0.0),
            timeline=str(c.get("timeline") or ""),
            compliance=list(c.get("compliance") or []),
            target_users=list(c.get("target_users") or []),
            tech_preferences=list(c.get("tech_preferences") or []),
        ),
        requested_phases=[phase_or_unspecified(p) for p in request.requested_phases or request.phases],
        budget=budget_to_proto(budget),
        policy=_wire(request.policy),
    )


def run_to_proto(
    run: RunRecord,
    *,
    requested: Sequence[str] = (),
    current: Sequence[str] = (),
    usage: common_pb2.Usage | None = None,
) -> run_pb2.Run:
    """A stored run as its message."""
    constraints = run.idea.get("constraints") or {}
    return run_pb2.Run(
        id=run.id,
        tenant=run.tenant,
        title=run.title,
        idea=str(run.idea.get("text", "")),
        constraints=run_pb2.Constraints(
            budget_usd=float(constraints.get("budget_usd") or 0.0),
            timeline=str(constraints.get("timeline") or ""),
            compliance=list(constraints.get("compliance") or []),
            target_users=list(constraints.get("target_users") or []),
            tech_preferences=list(constraints.get("tech_preferences") or []),
        ),
        requested_phases=[phase_or_unspecified(p) for p in requested or run.phases],
        budget=budget_to_proto(run.budget),
        policy=_wire(run.policy),
        status=_wire(run.status),
        status_reason=run.status_reason,
        current_phases=[phase_or_unspecified(p) for p in current],
        planned_phases=[phase_or_unspecified(p) for p in run.phases],
        created_by=run.created_by,
        created_at=timestamp(run.created_at),
        updated_at=timestamp(run.updated_at),
        usage=usage,
    )


def event_to_proto(row: LedgerRecord) -> run_pb2.RunEvent:
    """A ledger row as a run event."""
    return run_pb2.RunEvent(
        run_id=row.run_id,
        seq=row.seq,
        type=row.type,
        phase=phase_or_unspecified(row.phase),
        task_id=row.task_id or "",
        time=timestamp(row.created_at),
        payload=to_struct(row.payload),
    )


def phase_execution_to_proto(
    pe: PhaseExecutionRecord,
    *,
    max_attempts: int,
    artifact_ids: Sequence[str],
    task_count: int,
    tasks_done: int,
    usage: common_pb2.Usage,
) -> phase_pb2.PhaseExecution:
    """A phase execution with the counts the servicer gathered."""
    return phase_pb2.PhaseExecution(
        run_id=pe.run_id,
        phase=phase_or_unspecified(pe.phase),
        status=_wire(pe.status),
        attempt=pe.attempt,
        max_attempts=max_attempts,
        plan_hash=pe.plan_hash,
        last_decision=_wire(pe.decision) if pe.decision is not None else None,
        last_score=pe.score or 0.0,
        artifact_ids=list(artifact_ids),
        task_count=task_count,
        tasks_done=tasks_done,
        started_at=timestamp(pe.started_at),
        finished_at=timestamp(pe.finished_at),
        usage=usage,
    )


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
        status=_wire(q.status),
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
        decision=_wire(g.decision),
        score=g.score,
        min_score=min_score,
        metrics=metrics,
        findings=findings,
        missing_artifact_types=[f.removeprefix(_MISSING) for f in g.findings if f.startswith(_MISSING)],
        waiver=None
        if waiver is None
        else gate_pb2.Waiver(
            waived_by=waiver.granted_by, reason=waiver.justification, waived_at=timestamp(waiver.created_at)
        ),
        evaluated_at=timestamp(g.created_at),
    )


_SCOPE_KINDS = {"run": budget_pb2.BUDGET_SCOPE_KIND_RUN, "phase": budget_pb2.BUDGET_SCOPE_KIND_PHASE}


def budget_scope_to_proto(
    scope: BudgetScopeRecord, *, used: common_pb2.Usage, phase: str | None = None, task_id: str = ""
) -> budget_pb2.BudgetScope:
    """A budget scope; ``used`` comes from the model calls (the scope holds only totals).

    ``reserved`` reports the whole token reservation as input tokens: a reservation is a
    worst case over both directions, not a split.
    """
    limits = scope.limits
    ratios = [
        scope.used_tokens / limits.tokens if limits.tokens else 0.0,
        scope.used_usd / limits.usd if limits.usd else 0.0,
        used.wall_clock_seconds / limits.wall_clock_seconds if limits.wall_clock_seconds else 0.0,
    ]
    return budget_pb2.BudgetScope(
        kind=_SCOPE_KINDS.get(scope.kind, budget_pb2.BUDGET_SCOPE_KIND_TASK),
        phase=phase_or_unspecified(phase),
        task_id=task_id,
        limit=budget_to_proto(limits),
        used=used,
        reserved=common_pb2.Usage(input_tokens=scope.reserved_tokens, cost_usd=scope.reserved_usd),
        utilisation=max(ratios),
    )


def checkpoint_to_proto(c: CheckpointRecord, *, event_seq: int = 0) -> checkpoint_pb2.Checkpoint:
    """A phase checkpoint; its free-form state supplies step, plan hash and artifacts."""
    state = c.state
    return checkpoint_pb2.Checkpoint(
        id=c.id,
        run_id=c.run_id,
        phase=phase_or_unspecified(c.phase),
        attempt=c.attempt,
        step=str(state.get("stage", "")),
        plan_hash=str(state.get("plan_hash", "")),
        artifact_ids=[str(a) for a in state.get("artifact_ids", [])],
        event_seq=event_seq,
        created_at=timestamp(c.created_at),
    )


def phase_definition_to_proto(p: PhaseSpec) -> catalog_pb2.PhaseDefinition:
    """A catalogue phase."""
    metrics = []
    for m in p.gate.metrics:
        low, high = m.threshold if isinstance(m.threshold, tuple) else (m.threshold, 0.0)
        metrics.append(
            catalog_pb2.MetricDefinition(
                name=m.metric,
                op=m.op,
                threshold=low,
                threshold_high=high,
                weight=m.weight,
                required=m.required,
                never_waivable=m.never_waivable,
            )
        )
    return catalog_pb2.PhaseDefinition(
        phase=phase_or_unspecified(p.name),
        name=p.name,
        index=p.index,
        needs=[phase_or_unspecified(n) for n in p.needs],
        parallelism=p.parallelism,
        tasks=[
            catalog_pb2.TaskDefinition(key=t.key, produces=t.produces, after=t.after, per_story=t.per_story)
            for t in p.tasks
        ],
        gate=catalog_pb2.GateDefinition(
            min_score=p.gate.min_score, max_attempts=p.gate.max_attempts, metrics=metrics
        ),
        budget=common_pb2.Budget(
            max_tokens=p.budget.tokens, max_wall_clock_seconds=int(p.budget.wall_clock_minutes * 60)
        ),
        qav=catalog_pb2.QavLimits(max_questions=p.qav.max_questions, max_rounds=p.qav.max_rounds),
        artifact_types=p.artifact_types,
    )


def agent_definition_to_proto(
    entry: AgentEntry, *, host_ids: Sequence[str] = ()
) -> catalog_pb2.AgentDefinition:
    """A registered agent class; several task keys are joined with commas."""
    cls = entry.cls
    produces = list(dict.fromkeys(t for decl in cls.tasks.values() for t in decl.produces))
    doc = (cls.__doc__ or "").strip().splitlines()
    return catalog_pb2.AgentDefinition(
        name=entry.name,
        version=entry.version,
        phase=phase_or_unspecified(entry.phase),
        task_key=",".join(cls.tasks),
        produces=produces,
        consumes=list(getattr(cls, "consumes", ())),
        description=doc[0] if doc else "",
        plugin=entry.plugin,
        host_ids=list(host_ids),
    )


def agent_definition_to_dict(agent: catalog_pb2.AgentDefinition) -> dict[str, Any]:
    """An agent definition as the JSON a host registration stores."""
    return dict(json_format.MessageToDict(agent, preserving_proto_field_name=True))


def agent_definition_from_dict(data: Mapping[str, Any]) -> catalog_pb2.AgentDefinition:
    """Inverse of :func:`agent_definition_to_dict` (unknown keys, e.g. old rows, are ignored)."""
    message = catalog_pb2.AgentDefinition()
    json_format.ParseDict(dict(data), message, ignore_unknown_fields=True)
    return message


def host_status_from_proto(state: int) -> str:
    """The store's host status for a HostState (unspecified/starting/serving count as UP)."""
    name = agent_host_pb2.HostState.Name(state) if state in agent_host_pb2.HostState.values() else ""
    return {v: k for k, v in _HOST_STATES.items()}.get(name, "UP")


def host_from_proto(req: agent_host_pb2.RegisterHostRequest, *, now: datetime) -> AgentHostRecord:
    """A RegisterHost request as the host record to store."""
    return AgentHostRecord(
        id=req.host_id,
        name=req.labels.get("name", req.host_id),
        address=req.address,
        agents=[agent_definition_to_dict(a) for a in req.agents],
        capacity=req.capacity,
        status="UP",
        last_heartbeat_at=now,
        registered_at=now,
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
        status=_wire(t.status),
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
