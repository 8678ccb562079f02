"""Plain records the store reads and writes.

Records are frozen dataclasses of Python values (ids as strings, times as aware
``datetime`` in UTC, JSON as dicts/lists). Both backends return exactly these types, so
the contract suite can compare them field by field.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ideamine.enums import GateDecision, PhaseStatus, Policy, QuestionStatus, RunStatus, TaskStatus

JSON = dict[str, Any]

__all__ = [
    "JSON",
    "NewRun",
    "RunRecord",
    "PhaseExecutionRecord",
    "NewTask",
    "TaskRecord",
    "NewArtifact",
    "ArtifactRecord",
    "TaskResultRecord",
    "Event",
    "LedgerRecord",
    "LedgerVerification",
    "OutboxRecord",
    "TimerRecord",
    "CheckpointRecord",
    "QuestionRecord",
    "AssumptionRecord",
    "GateEvaluationRecord",
    "WaiverRecord",
    "BudgetLimits",
    "BudgetScopeRecord",
    "Reservation",
    "BudgetEventRecord",
    "LLMCallRecord",
    "UsageTotals",
    "AgentHostRecord",
    "LeaseRecord",
    "Page",
]


@dataclass(frozen=True)
class BudgetLimits:
    """Limits of one budget scope; ``None`` means unlimited in that dimension."""

    tokens: int | None = None
    usd: float | None = None
    wall_clock_seconds: float | None = None


@dataclass(frozen=True)
class NewRun:
    """What a caller supplies to create a run."""

    tenant: str
    title: str
    idea: JSON  #: {"text", "title", "constraints": {...}}
    phases: tuple[str, ...]  #: requested phases plus their dependencies, pipeline order
    budget: BudgetLimits
    policy: Policy = Policy.AUTONOMOUS
    created_by: str = ""
    labels: JSON = field(default_factory=dict)


@dataclass(frozen=True)
class RunRecord:
    """A run as stored."""

    id: str
    tenant: str
    title: str
    idea: JSON
    phases: tuple[str, ...]
    budget: BudgetLimits
    policy: Policy
    status: RunStatus
    status_reason: str
    created_by: str
    labels: JSON
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class PhaseExecutionRecord:
    """One phase of one run; ``attempt`` is the current gate-loop attempt (1-based)."""

    id: str
    run_id: str
    phase: str
    status: PhaseStatus
    attempt: int
    plan_hash: str
    score: float | None
    decision: GateDecision | None
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True)
class NewTask:
    """A task to create (and publish through the outbox)."""

    run_id: str
    phase: str
    task_key: str  #: catalogue task key; per-story tasks use "plan:ST-004"
    agent: str
    agent_version: str
    idempotency_key: str
    input: JSON  #: what the agent needs besides the run's artifacts (story id, feedback ...)
    phase_attempt: int = 1
    deadline: datetime | None = None
    max_deliveries: int = 5
    id: str | None = None  #: caller may pre-assign (time-ordered UUID)


@dataclass(frozen=True)
class TaskRecord:
    """A task as stored. ``attempt`` is the delivery/retry fence."""

    id: str
    run_id: str
    phase: str
    phase_attempt: int
    task_key: str
    agent: str
    agent_version: str
    idempotency_key: str
    input: JSON
    status: TaskStatus
    attempt: int
    worker: str | None
    lease_expires_at: datetime | None
    deadline: datetime | None
    max_deliveries: int
    error: str | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class NewArtifact:
    """An artifact an agent produced (content already schema-validated)."""

    type: str
    content: JSON
    model: str  #: e.g. "offline", "claude-sonnet-4-5", "replay"
    input_artifact_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class ArtifactRecord:
    """An artifact as stored; ``version`` counts per (run, type, story key)."""

    id: str
    run_id: str
    phase: str
    type: str
    key: str  #: "" for singletons, the story id for per-story artifacts
    version: int
    content: JSON
    sha256: str  #: of canonical JSON content
    model: str
    task_id: str | None
    input_artifact_ids: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True)
class TaskResultRecord:
    """The committed result of a task, unique per idempotency key."""

    idempotency_key: str
    task_id: str
    attempt: int
    status: TaskStatus
    output: JSON
    artifact_ids: tuple[str, ...]
    committed_at: datetime


@dataclass(frozen=True)
class Event:
    """An event to append to a run's ledger (in the same transaction as its state change)."""

    type: str  #: e.g. "run.started", "phase.completed", "gate.failed", "task.dead"
    payload: JSON = field(default_factory=dict)
    phase: str | None = None
    task_id: str | None = None


@dataclass(frozen=True)
class LedgerRecord:
    """One row of the hash-chained ledger."""

    run_id: str
    seq: int  #: 1-based, per run, assigned by the database
    type: str
    phase: str | None
    task_id: str | None
    payload: JSON
    prev_hash: str  #: hash of row seq-1 ("0"*64 for the first row)
    hash: str  #: sha256(prev_hash + canonical content of this row)
    created_at: datetime


@dataclass(frozen=True)
class LedgerVerification:
    """Result of re-computing a run's chain."""

    ok: bool
    rows: int
    first_bad_seq: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class OutboxRecord:
    """A message waiting to be published to the queue."""

    id: int
    topic: str  #: "tasks" or "notices"
    task_id: str | None
    payload: JSON
    created_at: datetime
    claimed_by: str | None = None  #: the relay publishing it (``RunStore.claim_outbox``)
    claimed_until: datetime | None = None  #: when that claim lapses and another relay may take it


@dataclass(frozen=True)
class TimerRecord:
    """A durable timer (retry backoff, phase timebox, stall check, answer deadline)."""

    id: str
    run_id: str
    kind: str
    key: str  #: unique per run+kind: re-arming the same key replaces nothing
    fire_at: datetime
    payload: JSON
    fired_at: datetime | None
    claimed_by: str | None


@dataclass(frozen=True)
class CheckpointRecord:
    """A phase checkpoint: plan, attempt, artifacts so far, budget used."""

    id: str
    run_id: str
    phase: str
    attempt: int
    state: JSON
    created_at: datetime


@dataclass(frozen=True)
class QuestionRecord:
    """A Q/A/V question and its current answer."""

    id: str
    run_id: str
    phase: str
    code: str  #: "Q-001"
    text: str
    blocking: bool
    status: QuestionStatus
    answer: str | None
    confidence: float | None
    scores: JSON  #: validator scores: grounding, completeness, specificity, consistency
    answered_by: str | None  #: "agent", "human:<sub>", or None
    deadline: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class AssumptionRecord:
    """An assumption recorded when a question had no confident answer."""

    id: str
    run_id: str
    phase: str
    code: str  #: "ASM-001"
    question_id: str | None
    text: str
    created_at: datetime


@dataclass(frozen=True)
class GateEvaluationRecord:
    """One gate evaluation of one phase attempt."""

    id: str
    run_id: str
    phase: str
    attempt: int
    score: float
    decision: GateDecision
    metrics: list[JSON]
    findings: list[str]
    created_at: datetime


@dataclass(frozen=True)
class WaiverRecord:
    """An admin's waiver of a failed gate."""

    id: str
    run_id: str
    phase: str
    granted_by: str
    justification: str
    expires_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class BudgetScopeRecord:
    """A budget scope (run, phase or task) with its limits and running totals."""

    id: str
    run_id: str
    kind: str  #: "run" | "phase" | "task"
    name: str  #: "" for run, the phase name, or the task id
    parent_id: str | None
    limits: BudgetLimits
    reserved_tokens: int
    reserved_usd: float
    used_tokens: int
    used_usd: float
    thresholds_crossed: tuple[int, ...]  #: of 50, 80, 95, 100 — each recorded once


@dataclass(frozen=True)
class Reservation:
    """A worst-case reservation held while a model call is in flight."""

    id: str
    scope_ids: tuple[str, ...]  #: the scope and all its ancestors
    tokens: int
    usd: float


@dataclass(frozen=True)
class BudgetEventRecord:
    """A threshold crossing (50/80/95/100 %) of a scope, recorded once."""

    id: str
    run_id: str
    scope_id: str
    threshold: int
    dimension: str  #: "tokens" | "usd"
    created_at: datetime


@dataclass(frozen=True)
class LLMCallRecord:
    """Usage and cost of one model call."""

    id: str
    run_id: str | None
    task_id: str | None
    phase: str | None
    agent: str
    provider: str
    model: str
    request_hash: str
    input_tokens: int
    output_tokens: int
    cost_usd: float
    status: str  #: "ok" | "error"
    error: str | None
    latency_ms: float
    created_at: datetime


@dataclass(frozen=True)
class UsageTotals:
    """Model calls and their usage summed (a run's, a phase's, a task's, a metered client's).

    Failed calls count when their usage is known.
    """

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    @classmethod
    def of(cls, calls: Iterable[LLMCallRecord]) -> UsageTotals:
        """The totals of ``calls``."""
        total = cls()
        for c in calls:
            total = total.plus(c.input_tokens, c.output_tokens, c.cost_usd)
        return total

    def plus(self, input_tokens: int, output_tokens: int, cost_usd: float) -> UsageTotals:
        """These totals with one more call added."""
        return UsageTotals(
            self.calls + 1,
            self.input_tokens + input_tokens,
            self.output_tokens + output_tokens,
            self.cost_usd + cost_usd,
        )

    def minus(self, earlier: UsageTotals) -> UsageTotals:
        """What was spent since ``earlier``."""
        return UsageTotals(
            self.calls - earlier.calls,
            self.input_tokens - earlier.input_tokens,
            self.output_tokens - earlier.output_tokens,
            self.cost_usd - earlier.cost_usd,
        )


@dataclass(frozen=True)
class AgentHostRecord:
    """A registered agent host and its catalogue."""

    id: str
    name: str
    address: str
    agents: list[JSON]  #: [{"name", "version", "phase", "source"}]
    capacity: int
    status: str  #: "UP" | "DRAINING" | "DOWN"
    last_heartbeat_at: datetime
    registered_at: datetime


@dataclass(frozen=True)
class LeaseRecord:
    """Ownership of a run by an orchestrator replica; ``fence`` grows with each owner."""

    run_id: str
    owner: str
    fence: int
    expires_at: datetime


@dataclass(frozen=True)
class Page:
    """One page of a listing; ``next_token`` is "" on the last page."""

    items: list[Any]
    next_token: str = ""
