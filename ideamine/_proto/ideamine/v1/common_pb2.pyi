from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class RunStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUN_STATUS_UNSPECIFIED: _ClassVar[RunStatus]
    RUN_STATUS_PENDING: _ClassVar[RunStatus]
    RUN_STATUS_RUNNING: _ClassVar[RunStatus]
    RUN_STATUS_PAUSED: _ClassVar[RunStatus]
    RUN_STATUS_AWAITING_INPUT: _ClassVar[RunStatus]
    RUN_STATUS_NEEDS_WAIVER: _ClassVar[RunStatus]
    RUN_STATUS_BUDGET_EXHAUSTED: _ClassVar[RunStatus]
    RUN_STATUS_SUCCEEDED: _ClassVar[RunStatus]
    RUN_STATUS_FAILED: _ClassVar[RunStatus]
    RUN_STATUS_CANCELLED: _ClassVar[RunStatus]

class PhaseStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PHASE_STATUS_UNSPECIFIED: _ClassVar[PhaseStatus]
    PHASE_STATUS_PENDING: _ClassVar[PhaseStatus]
    PHASE_STATUS_RUNNING: _ClassVar[PhaseStatus]
    PHASE_STATUS_AWAITING_INPUT: _ClassVar[PhaseStatus]
    PHASE_STATUS_SUCCEEDED: _ClassVar[PhaseStatus]
    PHASE_STATUS_WAIVED: _ClassVar[PhaseStatus]
    PHASE_STATUS_FAILED: _ClassVar[PhaseStatus]
    PHASE_STATUS_CANCELLED: _ClassVar[PhaseStatus]

class TaskStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_STATUS_UNSPECIFIED: _ClassVar[TaskStatus]
    TASK_STATUS_PENDING: _ClassVar[TaskStatus]
    TASK_STATUS_QUEUED: _ClassVar[TaskStatus]
    TASK_STATUS_RUNNING: _ClassVar[TaskStatus]
    TASK_STATUS_SUCCEEDED: _ClassVar[TaskStatus]
    TASK_STATUS_FAILED: _ClassVar[TaskStatus]
    TASK_STATUS_CANCELLED: _ClassVar[TaskStatus]
    TASK_STATUS_DEAD: _ClassVar[TaskStatus]

class GateDecision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GATE_DECISION_UNSPECIFIED: _ClassVar[GateDecision]
    GATE_DECISION_PASS: _ClassVar[GateDecision]
    GATE_DECISION_WARN: _ClassVar[GateDecision]
    GATE_DECISION_FAIL: _ClassVar[GateDecision]

class QuestionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    QUESTION_STATUS_UNSPECIFIED: _ClassVar[QuestionStatus]
    QUESTION_STATUS_OPEN: _ClassVar[QuestionStatus]
    QUESTION_STATUS_ACCEPTED: _ClassVar[QuestionStatus]
    QUESTION_STATUS_ASSUMED: _ClassVar[QuestionStatus]
    QUESTION_STATUS_AWAITING_HUMAN: _ClassVar[QuestionStatus]
    QUESTION_STATUS_ANSWERED_BY_HUMAN: _ClassVar[QuestionStatus]

class Policy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    POLICY_UNSPECIFIED: _ClassVar[Policy]
    POLICY_AUTONOMOUS: _ClassVar[Policy]
    POLICY_ASK_ON_BLOCKING: _ClassVar[Policy]
    POLICY_APPROVE_EACH_PHASE: _ClassVar[Policy]

class Phase(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PHASE_UNSPECIFIED: _ClassVar[Phase]
    PHASE_INTAKE: _ClassVar[Phase]
    PHASE_IDEATION: _ClassVar[Phase]
    PHASE_CRITIQUE: _ClassVar[Phase]
    PHASE_PRD: _ClassVar[Phase]
    PHASE_BIZDEV: _ClassVar[Phase]
    PHASE_ARCHITECTURE: _ClassVar[Phase]
    PHASE_BUILD: _ClassVar[Phase]
    PHASE_SECURITY: _ClassVar[Phase]
    PHASE_STORY_LOOP: _ClassVar[Phase]
    PHASE_QA: _ClassVar[Phase]
    PHASE_AESTHETIC: _ClassVar[Phase]
    PHASE_RELEASE: _ClassVar[Phase]
    PHASE_BETA: _ClassVar[Phase]
RUN_STATUS_UNSPECIFIED: RunStatus
RUN_STATUS_PENDING: RunStatus
RUN_STATUS_RUNNING: RunStatus
RUN_STATUS_PAUSED: RunStatus
RUN_STATUS_AWAITING_INPUT: RunStatus
RUN_STATUS_NEEDS_WAIVER: RunStatus
RUN_STATUS_BUDGET_EXHAUSTED: RunStatus
RUN_STATUS_SUCCEEDED: RunStatus
RUN_STATUS_FAILED: RunStatus
RUN_STATUS_CANCELLED: RunStatus
PHASE_STATUS_UNSPECIFIED: PhaseStatus
PHASE_STATUS_PENDING: PhaseStatus
PHASE_STATUS_RUNNING: PhaseStatus
PHASE_STATUS_AWAITING_INPUT: PhaseStatus
PHASE_STATUS_SUCCEEDED: PhaseStatus
PHASE_STATUS_WAIVED: PhaseStatus
PHASE_STATUS_FAILED: PhaseStatus
PHASE_STATUS_CANCELLED: PhaseStatus
TASK_STATUS_UNSPECIFIED: TaskStatus
TASK_STATUS_PENDING: TaskStatus
TASK_STATUS_QUEUED: TaskStatus
TASK_STATUS_RUNNING: TaskStatus
TASK_STATUS_SUCCEEDED: TaskStatus
TASK_STATUS_FAILED: TaskStatus
TASK_STATUS_CANCELLED: TaskStatus
TASK_STATUS_DEAD: TaskStatus
GATE_DECISION_UNSPECIFIED: GateDecision
GATE_DECISION_PASS: GateDecision
GATE_DECISION_WARN: GateDecision
GATE_DECISION_FAIL: GateDecision
QUESTION_STATUS_UNSPECIFIED: QuestionStatus
QUESTION_STATUS_OPEN: QuestionStatus
QUESTION_STATUS_ACCEPTED: QuestionStatus
QUESTION_STATUS_ASSUMED: QuestionStatus
QUESTION_STATUS_AWAITING_HUMAN: QuestionStatus
QUESTION_STATUS_ANSWERED_BY_HUMAN: QuestionStatus
POLICY_UNSPECIFIED: Policy
POLICY_AUTONOMOUS: Policy
POLICY_ASK_ON_BLOCKING: Policy
POLICY_APPROVE_EACH_PHASE: Policy
PHASE_UNSPECIFIED: Phase
PHASE_INTAKE: Phase
PHASE_IDEATION: Phase
PHASE_CRITIQUE: Phase
PHASE_PRD: Phase
PHASE_BIZDEV: Phase
PHASE_ARCHITECTURE: Phase
PHASE_BUILD: Phase
PHASE_SECURITY: Phase
PHASE_STORY_LOOP: Phase
PHASE_QA: Phase
PHASE_AESTHETIC: Phase
PHASE_RELEASE: Phase
PHASE_BETA: Phase

class Budget(_message.Message):
    __slots__ = ("max_tokens", "max_usd", "max_wall_clock_seconds")
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MAX_USD_FIELD_NUMBER: _ClassVar[int]
    MAX_WALL_CLOCK_SECONDS_FIELD_NUMBER: _ClassVar[int]
    max_tokens: int
    max_usd: float
    max_wall_clock_seconds: int
    def __init__(self, max_tokens: _Optional[int] = ..., max_usd: _Optional[float] = ..., max_wall_clock_seconds: _Optional[int] = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ("input_tokens", "output_tokens", "cost_usd", "wall_clock_seconds", "llm_calls")
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    WALL_CLOCK_SECONDS_FIELD_NUMBER: _ClassVar[int]
    LLM_CALLS_FIELD_NUMBER: _ClassVar[int]
    input_tokens: int
    output_tokens: int
    cost_usd: float
    wall_clock_seconds: float
    llm_calls: int
    def __init__(self, input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., cost_usd: _Optional[float] = ..., wall_clock_seconds: _Optional[float] = ..., llm_calls: _Optional[int] = ...) -> None: ...
