"""Proto <-> domain conversions: the only package that builds or reads API messages.

Servicers validate, call the store, and convert with these; the client and the CLI use
them the other way round. Nothing else reads or builds a proto message field by field.

- :mod:`.wire`: enums and phase names, timestamps, Structs, JSON output;
- :mod:`.runs`: run requests and runs, events, phase executions, budgets, checkpoints;
- :mod:`.outputs`: artifacts, questions and assumptions, gate evaluations, tasks;
- :mod:`.catalog`: phase and agent definitions, agent-host registrations.
"""

from __future__ import annotations

from ideamine.convert.catalog import (
    agent_definition_from_dict,
    agent_definition_to_dict,
    agent_definition_to_proto,
    host_from_proto,
    host_status_from_proto,
    phase_definition_to_proto,
)
from ideamine.convert.outputs import (
    artifact_to_proto,
    assumption_to_proto,
    gate_evaluation_to_proto,
    question_to_proto,
    task_to_proto,
)
from ideamine.convert.runs import (
    budget_from_proto,
    budget_scope_to_proto,
    budget_to_proto,
    checkpoint_to_proto,
    event_to_proto,
    phase_execution_to_proto,
    run_request_dict,
    run_request_to_proto,
    run_to_proto,
    run_violation_field,
    usage_to_proto,
)
from ideamine.convert.wire import (
    enum_from_proto,
    enum_prefix,
    enum_to_proto,
    from_struct,
    message_to_json,
    optional_phase,
    phase_from_proto,
    phase_or_unspecified,
    phase_to_proto,
    timestamp,
    to_struct,
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
