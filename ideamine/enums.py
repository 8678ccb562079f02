"""Status enums and the one table of allowed status transitions.

The members mirror the proto enums in ``proto/ideamine/v1/common.proto`` (without the
type prefix and the ``_UNSPECIFIED`` zero value; a test pins the correspondence), the
database stores the member *names* under a ``CHECK`` constraint, and the store's update
functions refuse any transition that is not listed here. No other module assigns a
status directly.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "RunStatus",
    "PhaseStatus",
    "TaskStatus",
    "GateDecision",
    "QuestionStatus",
    "Policy",
    "RUN_TRANSITIONS",
    "PHASE_TRANSITIONS",
    "TASK_TRANSITIONS",
    "can_transition",
    "TERMINAL_RUN_STATUSES",
    "TERMINAL_TASK_STATUSES",
]


class RunStatus(StrEnum):
    """Lifecycle of a run."""

    PENDING = "PENDING"  #: created, not yet picked up by an owner
    RUNNING = "RUNNING"  #: an owner is driving its phases
    PAUSED = "PAUSED"  #: paused by an operator; resumable
    AWAITING_INPUT = "AWAITING_INPUT"  #: a blocking question waits for a human
    NEEDS_WAIVER = "NEEDS_WAIVER"  #: a gate failed all attempts; waits for an admin waiver
    BUDGET_EXHAUSTED = "BUDGET_EXHAUSTED"  #: a budget hit 100 %; resumable with a raised budget
    SUCCEEDED = "SUCCEEDED"  #: every requested phase passed (or was waived)
    FAILED = "FAILED"  #: a gate failed with no waiver possible, or an unrecoverable error
    CANCELLED = "CANCELLED"  #: cancelled by an operator


class PhaseStatus(StrEnum):
    """Lifecycle of one phase execution (all attempts of a phase within a run)."""

    PENDING = "PENDING"  #: waiting for the phases it needs
    RUNNING = "RUNNING"  #: an attempt is planning, dispatching, guarding or gating
    AWAITING_INPUT = "AWAITING_INPUT"  #: Q/A/V escalated a blocking question to a human
    SUCCEEDED = "SUCCEEDED"  #: the gate passed (PASS or WARN)
    WAIVED = "WAIVED"  #: the gate failed, an admin waived it
    FAILED = "FAILED"  #: the gate failed every attempt
    CANCELLED = "CANCELLED"  #: the run was cancelled while the phase was open


class TaskStatus(StrEnum):
    """Lifecycle of one agent task (PENDING → QUEUED → RUNNING → terminal)."""

    PENDING = "PENDING"  #: written, not yet published
    QUEUED = "QUEUED"  #: published to the queue, waiting for a worker
    RUNNING = "RUNNING"  #: a worker holds the lease and runs the agent
    SUCCEEDED = "SUCCEEDED"  #: result committed under its idempotency key
    FAILED = "FAILED"  #: the agent raised a non-retryable error, or retries ran out
    CANCELLED = "CANCELLED"  #: the run or phase was cancelled
    DEAD = "DEAD"  #: exhausted its deliveries; moved to the dead-letter stream


class GateDecision(StrEnum):
    """Outcome of one gate evaluation."""

    PASS = "PASS"  #: score ≥ min_score + 10 and every required metric passed
    WARN = "WARN"  #: passed, but score < min_score + 10
    FAIL = "FAIL"  #: a required metric or artifact failed, or score < min_score


class QuestionStatus(StrEnum):
    """Lifecycle of a Q/A/V question."""

    OPEN = "OPEN"  #: asked, no accepted answer yet
    ACCEPTED = "ACCEPTED"  #: answered and the validator accepted the answer
    ASSUMED = "ASSUMED"  #: no confident answer; recorded as an assumption
    AWAITING_HUMAN = "AWAITING_HUMAN"  #: escalated to a human, deadline timer running
    ANSWERED_BY_HUMAN = "ANSWERED_BY_HUMAN"  #: a human answered it over the API


class Policy(StrEnum):
    """How much a run involves a human."""

    AUTONOMOUS = "AUTONOMOUS"  #: never waits; unknowns become assumptions
    ASK_ON_BLOCKING = "ASK_ON_BLOCKING"  #: blocking questions wait for a human until their deadline
    APPROVE_EACH_PHASE = "APPROVE_EACH_PHASE"  #: every phase also waits for a human approval


TERMINAL_RUN_STATUSES = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED})
TERMINAL_TASK_STATUSES = frozenset(
    {TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.DEAD}
)

_R = RunStatus
RUN_TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    _R.PENDING: frozenset({_R.RUNNING, _R.CANCELLED}),
    _R.RUNNING: frozenset(
        {
            _R.PAUSED,
            _R.AWAITING_INPUT,
            _R.NEEDS_WAIVER,
            _R.BUDGET_EXHAUSTED,
            _R.SUCCEEDED,
            _R.FAILED,
            _R.CANCELLED,
        }
    ),
    _R.PAUSED: frozenset({_R.RUNNING, _R.CANCELLED}),
    _R.AWAITING_INPUT: frozenset({_R.RUNNING, _R.PAUSED, _R.CANCELLED}),
    _R.NEEDS_WAIVER: frozenset({_R.RUNNING, _R.FAILED, _R.CANCELLED}),
    _R.BUDGET_EXHAUSTED: frozenset({_R.RUNNING, _R.CANCELLED}),
    _R.SUCCEEDED: frozenset(),
    _R.FAILED: frozenset(),
    _R.CANCELLED: frozenset(),
}

_P = PhaseStatus
PHASE_TRANSITIONS: dict[PhaseStatus, frozenset[PhaseStatus]] = {
    _P.PENDING: frozenset({_P.RUNNING, _P.CANCELLED}),
    _P.RUNNING: frozenset({_P.AWAITING_INPUT, _P.SUCCEEDED, _P.FAILED, _P.CANCELLED}),
    _P.AWAITING_INPUT: frozenset({_P.RUNNING, _P.CANCELLED}),
    _P.FAILED: frozenset({_P.WAIVED, _P.RUNNING}),
    _P.SUCCEEDED: frozenset(),
    _P.WAIVED: frozenset(),
    _P.CANCELLED: frozenset(),
}

_T = TaskStatus
TASK_TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    _T.PENDING: frozenset({_T.QUEUED, _T.CANCELLED}),
    _T.QUEUED: frozenset({_T.RUNNING, _T.SUCCEEDED, _T.CANCELLED, _T.DEAD}),
    # RUNNING -> QUEUED is a redelivery or retry: the attempt number goes up with it.
    _T.RUNNING: frozenset({_T.QUEUED, _T.SUCCEEDED, _T.FAILED, _T.CANCELLED, _T.DEAD}),
    _T.SUCCEEDED: frozenset(),
    _T.FAILED: frozenset({_T.QUEUED}),  # a healed retry re-queues with attempt + 1
    _T.CANCELLED: frozenset(),
    _T.DEAD: frozenset(),
}


def can_transition(table: dict[StrEnum, frozenset[StrEnum]] | dict, old: StrEnum, new: StrEnum) -> bool:  # type: ignore[type-arg]
    """Whether ``old → new`` is allowed by ``table`` (one of the tables above)."""
    return new in table.get(old, frozenset())
