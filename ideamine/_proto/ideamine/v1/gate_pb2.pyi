import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from ideamine._proto.ideamine.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FindingSeverity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FINDING_SEVERITY_UNSPECIFIED: _ClassVar[FindingSeverity]
    FINDING_SEVERITY_INFO: _ClassVar[FindingSeverity]
    FINDING_SEVERITY_LOW: _ClassVar[FindingSeverity]
    FINDING_SEVERITY_MEDIUM: _ClassVar[FindingSeverity]
    FINDING_SEVERITY_HIGH: _ClassVar[FindingSeverity]
    FINDING_SEVERITY_CRITICAL: _ClassVar[FindingSeverity]
FINDING_SEVERITY_UNSPECIFIED: FindingSeverity
FINDING_SEVERITY_INFO: FindingSeverity
FINDING_SEVERITY_LOW: FindingSeverity
FINDING_SEVERITY_MEDIUM: FindingSeverity
FINDING_SEVERITY_HIGH: FindingSeverity
FINDING_SEVERITY_CRITICAL: FindingSeverity

class MetricResult(_message.Message):
    __slots__ = ("name", "value", "op", "threshold", "threshold_high", "weight", "required", "passed")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    OP_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_HIGH_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: float
    op: str
    threshold: float
    threshold_high: float
    weight: float
    required: bool
    passed: bool
    def __init__(self, name: _Optional[str] = ..., value: _Optional[float] = ..., op: _Optional[str] = ..., threshold: _Optional[float] = ..., threshold_high: _Optional[float] = ..., weight: _Optional[float] = ..., required: _Optional[bool] = ..., passed: _Optional[bool] = ...) -> None: ...

class Finding(_message.Message):
    __slots__ = ("code", "severity", "message", "metric", "refs")
    CODE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    REFS_FIELD_NUMBER: _ClassVar[int]
    code: str
    severity: FindingSeverity
    message: str
    metric: str
    refs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, code: _Optional[str] = ..., severity: _Optional[_Union[FindingSeverity, str]] = ..., message: _Optional[str] = ..., metric: _Optional[str] = ..., refs: _Optional[_Iterable[str]] = ...) -> None: ...

class Waiver(_message.Message):
    __slots__ = ("waived_by", "reason", "waived_at", "expires_at", "expired")
    WAIVED_BY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    WAIVED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRED_FIELD_NUMBER: _ClassVar[int]
    waived_by: str
    reason: str
    waived_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    expired: bool
    def __init__(self, waived_by: _Optional[str] = ..., reason: _Optional[str] = ..., waived_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expired: _Optional[bool] = ...) -> None: ...

class GateEvaluation(_message.Message):
    __slots__ = ("id", "run_id", "phase", "attempt", "decision", "score", "min_score", "metrics", "findings", "missing_artifact_types", "waiver", "evaluated_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    MIN_SCORE_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    MISSING_ARTIFACT_TYPES_FIELD_NUMBER: _ClassVar[int]
    WAIVER_FIELD_NUMBER: _ClassVar[int]
    EVALUATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    run_id: str
    phase: _common_pb2.Phase
    attempt: int
    decision: _common_pb2.GateDecision
    score: float
    min_score: float
    metrics: _containers.RepeatedCompositeFieldContainer[MetricResult]
    findings: _containers.RepeatedCompositeFieldContainer[Finding]
    missing_artifact_types: _containers.RepeatedScalarFieldContainer[str]
    waiver: Waiver
    evaluated_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., run_id: _Optional[str] = ..., phase: _Optional[_Union[_common_pb2.Phase, str]] = ..., attempt: _Optional[int] = ..., decision: _Optional[_Union[_common_pb2.GateDecision, str]] = ..., score: _Optional[float] = ..., min_score: _Optional[float] = ..., metrics: _Optional[_Iterable[_Union[MetricResult, _Mapping]]] = ..., findings: _Optional[_Iterable[_Union[Finding, _Mapping]]] = ..., missing_artifact_types: _Optional[_Iterable[str]] = ..., waiver: _Optional[_Union[Waiver, _Mapping]] = ..., evaluated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListGateEvaluationsRequest(_message.Message):
    __slots__ = ("run_id", "phase", "page_size", "page_token")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    phase: _common_pb2.Phase
    page_size: int
    page_token: str
    def __init__(self, run_id: _Optional[str] = ..., phase: _Optional[_Union[_common_pb2.Phase, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListGateEvaluationsResponse(_message.Message):
    __slots__ = ("gate_evaluations", "next_page_token")
    GATE_EVALUATIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    gate_evaluations: _containers.RepeatedCompositeFieldContainer[GateEvaluation]
    next_page_token: str
    def __init__(self, gate_evaluations: _Optional[_Iterable[_Union[GateEvaluation, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class WaiveGateRequest(_message.Message):
    __slots__ = ("run_id", "phase", "reason", "expires_at")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    phase: _common_pb2.Phase
    reason: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, run_id: _Optional[str] = ..., phase: _Optional[_Union[_common_pb2.Phase, str]] = ..., reason: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class WaiveGateResponse(_message.Message):
    __slots__ = ("gate_evaluation",)
    GATE_EVALUATION_FIELD_NUMBER: _ClassVar[int]
    gate_evaluation: GateEvaluation
    def __init__(self, gate_evaluation: _Optional[_Union[GateEvaluation, _Mapping]] = ...) -> None: ...
