"""BudgetService: a run's limits and usage per scope, and raising the run's limits.

Usage comes from the recorded model calls (they carry the input/output split the scopes
do not); limits, reservations and the totals used for utilisation come from the scopes.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime
from typing import Any

import grpc

from ideamine._proto.ideamine.v1 import budget_pb2, budget_pb2_grpc
from ideamine.convert import budget_scope_to_proto, run_to_proto, usage_to_proto
from ideamine.enums import RunStatus
from ideamine.errors import FieldViolation, InvalidInput
from ideamine.store.records import (
    BudgetLimits,
    BudgetScopeRecord,
    Event,
    LLMCallRecord,
    RunRecord,
    UsageTotals,
)
from orchestrator.auth import current_principal
from orchestrator.servicers._common import (
    App,
    phase_usage,
    resume_run,
    tenant_run,
    violations_message,
    wall_clock,
)

__all__ = ["BudgetServicer", "raised_limits"]


def raised_limits(current: BudgetLimits, request: budget_pb2.RaiseBudgetRequest) -> BudgetLimits:
    """The new run limits: each non-zero requested limit, which may not lower the current one.

    Raises:
        InvalidInput: a negative limit or one below the current limit (each named).
    """
    if not request.HasField("budget"):
        raise InvalidInput("budget is required", field="budget")
    b = request.budget
    asked = (
        ("tokens", "budget.max_tokens", b.max_tokens),
        ("usd", "budget.max_usd", b.max_usd),
        ("wall_clock_seconds", "budget.max_wall_clock_seconds", b.max_wall_clock_seconds),
    )
    errs: list[FieldViolation] = []
    new = current
    for attr, field, value in asked:
        now = getattr(current, attr)
        if value < 0:
            errs.append(FieldViolation(field, "must not be negative"))
        elif value and now is not None and value < now:
            errs.append(FieldViolation(field, f"must be at least the current limit {now:g}"))
        elif value:
            changed: dict[str, Any] = {attr: int(value) if attr == "tokens" else float(value)}
            new = replace(new, **changed)
    if not errs and new == current:
        errs.append(FieldViolation("budget", "raise at least one limit"))
    if errs:
        raise InvalidInput(f"invalid budget: {violations_message(errs)}", violations=errs)
    return new


class BudgetServicer(budget_pb2_grpc.BudgetServiceServicer):  # type: ignore[misc]
    """Budgets of the caller's runs."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def _scopes(
        self, run: RunRecord
    ) -> tuple[
        list[BudgetScopeRecord], list[LLMCallRecord], dict[str, tuple[datetime | None, datetime | None]]
    ]:
        scopes, calls, executions = await asyncio.gather(
            self.app.store.get_budget_scopes(run.id),
            self.app.store.list_llm_calls(run_id=run.id),
            self.app.store.list_phase_executions(run.id),
        )
        spans = {p.phase: (p.started_at, p.finished_at) for p in executions}
        return scopes, calls, spans

    def _run_scope(
        self, run: RunRecord, scopes: list[BudgetScopeRecord], calls: list[LLMCallRecord]
    ) -> budget_pb2.BudgetScope:
        scope = next(s for s in scopes if s.kind == "run")
        return budget_scope_to_proto(
            scope, used=phase_usage(calls, None, wall=wall_clock(run.created_at, run.finished_at))
        )

    async def GetBudget(  # noqa: N802
        self, request: budget_pb2.GetBudgetRequest, context: grpc.aio.ServicerContext
    ) -> budget_pb2.GetBudgetResponse:
        """The run scope, phase scopes in pipeline order, and task scopes on request."""
        run = await tenant_run(self.app, request.run_id)
        scopes, calls, spans = await self._scopes(run)
        order = {n: i for i, n in enumerate(self.app.catalogue.names)}
        phases = sorted((s for s in scopes if s.kind == "phase"), key=lambda s: order.get(s.name, len(order)))
        tasks = [s for s in scopes if s.kind == "task"] if request.include_tasks else []
        return budget_pb2.GetBudgetResponse(
            run_id=run.id,
            run=self._run_scope(run, scopes, calls),
            phases=[
                budget_scope_to_proto(
                    s,
                    used=phase_usage(calls, s.name, wall=wall_clock(*spans.get(s.name, (None, None)))),
                    phase=s.name,
                )
                for s in phases
            ],
            tasks=[
                budget_scope_to_proto(
                    s,
                    used=usage_to_proto(UsageTotals.of(c for c in calls if c.task_id == s.name)),
                    task_id=s.name,
                )
                for s in tasks
            ],
        )

    async def RaiseBudget(  # noqa: N802
        self, request: budget_pb2.RaiseBudgetRequest, context: grpc.aio.ServicerContext
    ) -> budget_pb2.RaiseBudgetResponse:
        """Raise the run's limits (never lower them); optionally resume a budget-exhausted run."""
        if len(request.reason) > 2000:
            raise InvalidInput("reason must be at most 2,000 characters", field="reason")
        run = await tenant_run(self.app, request.run_id)
        new = raised_limits(run.budget, request)
        payload = {
            "by": current_principal().subject,
            "reason": request.reason,
            "tokens": new.tokens,
            "usd": new.usd,
            "wall_clock_seconds": new.wall_clock_seconds,
        }
        run = await self.app.store.update_run_budget(run.id, new, events=[Event("budget.raised", payload)])
        if request.resume and run.status is RunStatus.BUDGET_EXHAUSTED:
            run = await resume_run(
                self.app, run, allowed=[RunStatus.BUDGET_EXHAUSTED], payload={"budget": "raised"}
            )
        scopes, calls, _ = await self._scopes(run)
        return budget_pb2.RaiseBudgetResponse(
            run=self._run_scope(run, scopes, calls), run_status=run_to_proto(run).status
        )
