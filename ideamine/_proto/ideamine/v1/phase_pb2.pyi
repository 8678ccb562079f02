import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from ideamine._proto.ideamine.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PhaseExecution(_message.Message):
    __slots__ = ("run_id", "phase", "status", "attempt", "max_attempts", "plan_hash", "last_decision", "last_score", "artifact_ids", "task_count", "tasks_done", "started_at", "finished_at", "usage")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    PLAN_HASH_FIELD_NUMBER: _ClassVar[int]
    LAST_DECISION_FIELD_NUMBER: _ClassVar[int]
    LAST_SCORE_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_IDS_FIELD_NUMBER: _ClassVar[int]
    TASK_COUNT_FIELD_NUMBER: _ClassVar[int]
    TASKS_DONE_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    phase: _common_pb2.Phase
    status: _common_pb2.PhaseStatus
    attempt: int
    max_attempts: int
    plan_hash: str
    last_decision: _common_pb2.GateDecision
    last_score: float
    artifact_ids: _containers.RepeatedScalarFieldContainer[str]
    task_count: int
    tasks_done: int
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    usage: _common_pb2.Usage
    def __init__(self, run_id: _Optional[str] = ..., phase: _Optional[_Union[_common_pb2.Phase, str]] = ..., status: _Optional[_Union[_common_pb2.PhaseStatus, str]] = ..., attempt: _Optional[int] = ..., max_attempts: _Optional[int] = ..., plan_hash: _Optional[str] = ..., last_decision: _Optional[_Union[_common_pb2.GateDecision, str]] = ..., last_score: _Optional[float] = ..., artifact_ids: _Optional[_Iterable[str]] = ..., task_count: _Optional[int] = ..., tasks_done: _Optional[int] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., usage: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ...) -> None: ...

class ListPhaseExecutionsRequest(_message.Message):
    __slots__ = ("run_id", "page_size", "page_token")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    page_size: int
    page_token: str
    def __init__(self, run_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPhaseExecutionsResponse(_message.Message):
    __slots__ = ("phase_executions", "next_page_token")
    PHASE_EXECUTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    phase_executions: _containers.RepeatedCompositeFieldContainer[PhaseExecution]
    next_page_token: str
    def __init__(self, phase_executions: _Optional[_Iterable[_Union[PhaseExecution, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetPhaseExecutionRequest(_message.Message):
    __slots__ = ("run_id", "phase")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    phase: _common_pb2.Phase
    def __init__(self, run_id: _Optional[str] = ..., phase: _Optional[_Union[_common_pb2.Phase, str]] = ...) -> None: ...

class GetPhaseExecutionResponse(_message.Message):
    __slots__ = ("phase_execution",)
    PHASE_EXECUTION_FIELD_NUMBER: _ClassVar[int]
    phase_execution: PhaseExecution
    def __init__(self, phase_execution: _Optional[_Union[PhaseExecution, _Mapping]] = ...) -> None: ...
