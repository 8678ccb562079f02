"""What both schemas (SQLite and the PostgreSQL migration) must agree on with the code.

Shared by ``tests/store/test_sqlite_schema.py`` and the PostgreSQL schema tests, so
the list of status columns exists once.
"""

from __future__ import annotations

from enum import StrEnum

from ideamine.enums import GateDecision, PhaseStatus, Policy, QuestionStatus, RunStatus, TaskStatus

#: (table, column) → the enum whose member names its CHECK constraint must list exactly
ENUM_COLUMNS: dict[tuple[str, str], type[StrEnum]] = {
    ("runs", "policy"): Policy,
    ("runs", "status"): RunStatus,
    ("phase_executions", "status"): PhaseStatus,
    ("phase_executions", "decision"): GateDecision,
    ("tasks", "status"): TaskStatus,
    ("task_results", "status"): TaskStatus,
    ("questions", "status"): QuestionStatus,
    ("gate_evaluations", "decision"): GateDecision,
}
