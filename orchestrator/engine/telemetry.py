"""Spans and metrics around a run drive and a phase run.

The driver and the phase runner wrap their bodies in :func:`observed_run` and
:func:`observed_phase` (one line each), so what is measured — and the store reads that
cost and budget figures need — lives here rather than threaded through the state
machines. Figures come from the store, the source of truth: a run's cost is its run
budget scope's spend, which includes every task attempt, retried or not.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TypeVar

from opentelemetry import trace
from opentelemetry.trace import Span

from ideamine import metrics, tracing
from ideamine.enums import TERMINAL_RUN_STATUSES, RunStatus
from ideamine.store.base import RunStore
from ideamine.store.records import BudgetScopeRecord, RunRecord

__all__ = ["attempt_span", "gate_evaluated", "observed_phase", "observed_run", "utilisation"]


OutcomeT = TypeVar("OutcomeT", bound=enum.Enum)

#: phase outcomes counted as phase errors (the rest are success or an outside stop)
_ERROR_OUTCOMES = frozenset({"failed", "needs_waiver"})
#: outcomes after which a phase does not run again in this run (its budget is settled)
_FINAL_OUTCOMES = frozenset({"succeeded", "failed", "needs_waiver"})


def utilisation(scope: BudgetScopeRecord) -> float | None:
    """Used share of a scope's budget: the larger of tokens and USD; None when unlimited."""
    shares = [
        used / limit
        for used, limit in ((scope.used_tokens, scope.limits.tokens), (scope.used_usd, scope.limits.usd))
        if limit
    ]
    return max(shares) if shares else None


def _scope(scopes: Sequence[BudgetScopeRecord], kind: str, name: str) -> BudgetScopeRecord | None:
    return next((s for s in scopes if s.kind == kind and s.name == name), None)


async def observed_run(
    store: RunStore, run_id: str, drive: Callable[[str], Awaitable[RunRecord]]
) -> RunRecord:
    """Run ``drive(run_id)`` inside the run span, counting it active; record how it ended."""
    with tracing.run_span(run_id) as span:
        metrics.RUNS_ACTIVE.inc()
        try:
            run = await drive(run_id)
        finally:
            metrics.RUNS_ACTIVE.dec()
        span.set_attribute("ideamine.run.status", run.status.value)
    if run.status is RunStatus.RUNNING:
        return run  # stopped from outside mid-drive; whoever stops it records the end
    status = run.status.value.lower()
    metrics.RUNS_COMPLETED.labels(status=status).inc()
    scope = _scope(await store.get_budget_scopes(run_id), "run", "")
    share = utilisation(scope) if scope is not None else None
    if share is not None:
        metrics.RUN_BUDGET_UTILISATION.observe(share)
    if run.status in TERMINAL_RUN_STATUSES:
        ended = run.finished_at or datetime.now(UTC)
        metrics.RUN_DURATION.labels(status=status).observe((ended - run.created_at).total_seconds())
        metrics.RUN_COST.labels(status=status).observe(scope.used_usd if scope else 0.0)
    return run


async def observed_phase(
    store: RunStore, run_id: str, phase: str, body: Callable[[], Awaitable[OutcomeT]]
) -> OutcomeT:
    """Run a phase's ``body`` inside the phase span; record duration, outcome and budget use."""
    with tracing.phase_span(run_id, phase) as span:
        started = time.monotonic()
        try:
            outcome = await body()
        except Exception as exc:
            metrics.PHASE_ERRORS.labels(phase=phase, reason=getattr(exc, "reason", "EXCEPTION")).inc()
            raise
        status = str(outcome.value)
        span.set_attribute("ideamine.phase.outcome", status)
    metrics.PHASE_DURATION.labels(phase=phase, status=status).observe(time.monotonic() - started)
    metrics.PHASE_COMPLETIONS.labels(phase=phase, status=status).inc()
    if status in _ERROR_OUTCOMES:
        metrics.PHASE_ERRORS.labels(phase=phase, reason=status).inc()
    scope = _scope(await store.get_budget_scopes(run_id), "phase", phase)
    if scope is not None:
        share = utilisation(scope)
        if share is not None:
            metrics.BUDGET_UTILISATION.labels(phase=phase).set(share)
        if status in _FINAL_OUTCOMES and scope.limits.tokens:
            metrics.PHASE_BUDGET_TOKENS.labels(phase=phase).inc(scope.limits.tokens)
    return outcome


@contextmanager
def attempt_span(run_id: str, phase: str, attempt: int, *, stage: str = "dispatch") -> Iterator[Span]:
    """The span of one stage of a gate-loop attempt; tasks published inside continue its trace.

    The dispatch stage starts an attempt, so it is the one counted.
    """
    if stage == "dispatch":
        metrics.PHASE_ATTEMPTS.labels(phase=phase).inc()
    with tracing.phase_attempt_span(run_id, phase, attempt, stage=stage) as span:
        yield span


def gate_evaluated(phase: str, decision: str, score: float) -> None:
    """Count a gate evaluation, observe its score and note it on the current (phase) span."""
    decision = decision.lower()  # label values are lower case throughout
    metrics.observe_gate(phase, decision, score)
    trace.get_current_span().add_event(
        "gate evaluated", {"ideamine.gate.decision": decision, "ideamine.gate.score": score}
    )
