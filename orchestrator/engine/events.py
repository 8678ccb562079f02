"""Event types of the ledger envelope: one name per kind of thing that happened.

Every event is written in the same transaction as the state change it reports
(``ideamine.store.records.Event``); watchers and reports read them back in order.
"""

from __future__ import annotations

from typing import Final

RUN_CREATED: Final = "run.created"
RUN_STARTED: Final = "run.started"
RUN_RESUMED: Final = "run.resumed"
RUN_PAUSED: Final = "run.paused"
RUN_CANCELLED: Final = "run.cancelled"
RUN_AWAITING_INPUT: Final = "run.awaiting_input"
RUN_NEEDS_WAIVER: Final = "run.needs_waiver"
RUN_BUDGET_EXHAUSTED: Final = "run.budget_exhausted"
RUN_COMPLETED: Final = "run.completed"
RUN_FAILED: Final = "run.failed"

PHASE_STARTED: Final = "phase.started"
PHASE_PROGRESS: Final = "phase.progress"
PHASE_READY: Final = "phase.ready"  #: draft complete, guards and gate next
PHASE_COMPLETED: Final = "phase.completed"
PHASE_FAILED: Final = "phase.failed"
PHASE_WAIVED: Final = "phase.waived"
PHASE_WAIVER_EXPIRED: Final = "phase.waiver_expired"  #: a drive found the waiver expired

GATE_PASSED: Final = "gate.passed"
GATE_FAILED: Final = "gate.failed"
GUARD_FINDINGS: Final = "guard.findings"

TASK_QUEUED: Final = "task.queued"
TASK_STARTED: Final = "task.started"
TASK_SUCCEEDED: Final = "task.succeeded"
TASK_FAILED: Final = "task.failed"
TASK_RETRIED: Final = "task.retried"
TASK_STALLED: Final = "task.stalled"
TASK_DEAD: Final = "task.dead"

QUESTION_ASKED: Final = "question.asked"
QUESTION_ANSWERED: Final = "question.answered"
ASSUMPTION_RECORDED: Final = "assumption.recorded"

BUDGET_THRESHOLD: Final = "budget.threshold"
CHECKPOINT_SAVED: Final = "checkpoint.saved"
CHECKPOINT_RESUMED: Final = "checkpoint.resumed"
