"""Runs and their bookkeeping: run requests and runs, events, phase executions, budgets,
checkpoints."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ideamine._proto.ideamine.v1 import (
    budget_pb2,
    checkpoint_pb2,
    common_pb2,
    phase_pb2,
    run_pb2,
)
from ideamine.convert.wire import (
    enum_prefix,
    phase_or_unspecified,
    stub_enum,
    timestamp,
    to_struct,
)
from ideamine.runfile import RunRequest
from ideamine.store.records import (
    BudgetLimits,
    BudgetScopeRecord,
    CheckpointRecord,
    LedgerRecord,
    PhaseExecutionRecord,
    RunRecord,
    UsageTotals,
)

__all__ = [
    "budget_from_proto",
    "budget_scope_to_proto",
    "budget_to_proto",
    "checkpoint_to_proto",
    "event_to_proto",
    "phase_execution_to_proto",
    "run_request_dict",
    "run_request_to_proto",
    "run_to_proto",
    "run_violation_field",
    "usage_to_proto",
]


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


def usage_to_proto(totals: UsageTotals, *, wall_clock_seconds: float = 0.0) -> common_pb2.Usage:
    """Settled usage: model calls summed (:meth:`UsageTotals.of`, or by the store)."""
    return common_pb2.Usage(
        wall_clock_seconds=wall_clock_seconds,
        input_tokens=totals.input_tokens,
        output_tokens=totals.output_tokens,
        cost_usd=totals.cost_usd,
        llm_calls=totals.calls,
    )


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
        policy=stub_enum(request.policy),
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
        policy=stub_enum(run.policy),
        status=stub_enum(run.status),
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
        status=stub_enum(pe.status),
        attempt=pe.attempt,
        max_attempts=max_attempts,
        plan_hash=pe.plan_hash,
        last_decision=stub_enum(pe.decision) if pe.decision is not None else None,
        last_score=pe.score or 0.0,
        artifact_ids=list(artifact_ids),
        task_count=task_count,
        tasks_done=tasks_done,
        started_at=timestamp(pe.started_at),
        finished_at=timestamp(pe.finished_at),
        usage=usage,
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
