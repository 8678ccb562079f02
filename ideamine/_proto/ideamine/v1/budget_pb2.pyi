from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from ideamine._proto.ideamine.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BudgetScopeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BUDGET_SCOPE_KIND_UNSPECIFIED: _ClassVar[BudgetScopeKind]
    BUDGET_SCOPE_KIND_RUN: _ClassVar[BudgetScopeKind]
    BUDGET_SCOPE_KIND_PHASE: _ClassVar[BudgetScopeKind]
    BUDGET_SCOPE_KIND_TASK: _ClassVar[BudgetScopeKind]
BUDGET_SCOPE_KIND_UNSPECIFIED: BudgetScopeKind
BUDGET_SCOPE_KIND_RUN: BudgetScopeKind
BUDGET_SCOPE_KIND_PHASE: BudgetScopeKind
BUDGET_SCOPE_KIND_TASK: BudgetScopeKind

class BudgetScope(_message.Message):
    __slots__ = ("kind", "phase", "task_id", "limit", "used", "reserved", "utilisation")
    KIND_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    USED_FIELD_NUMBER: _ClassVar[int]
    RESERVED_FIELD_NUMBER: _ClassVar[int]
    UTILISATION_FIELD_NUMBER: _ClassVar[int]
    kind: BudgetScopeKind
    phase: _common_pb2.Phase
    task_id: str
    limit: _common_pb2.Budget
    used: _common_pb2.Usage
    reserved: _common_pb2.Usage
    utilisation: float
    def __init__(self, kind: _Optional[_Union[BudgetScopeKind, str]] = ..., phase: _Optional[_Union[_common_pb2.Phase, str]] = ..., task_id: _Optional[str] = ..., limit: _Optional[_Union[_common_pb2.Budget, _Mapping]] = ..., used: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ..., reserved: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ..., utilisation: _Optional[float] = ...) -> None: ...

class GetBudgetRequest(_message.Message):
    __slots__ = ("run_id", "include_tasks")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_TASKS_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    include_tasks: bool
    def __init__(self, run_id: _Optional[str] = ..., include_tasks: _Optional[bool] = ...) -> None: ...

class GetBudgetResponse(_message.Message):
    __slots__ = ("run_id", "run", "phases", "tasks")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_FIELD_NUMBER: _ClassVar[int]
    PHASES_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    run: BudgetScope
    phases: _containers.RepeatedCompositeFieldContainer[BudgetScope]
    tasks: _containers.RepeatedCompositeFieldContainer[BudgetScope]
    def __init__(self, run_id: _Optional[str] = ..., run: _Optional[_Union[BudgetScope, _Mapping]] = ..., phases: _Optional[_Iterable[_Union[BudgetScope, _Mapping]]] = ..., tasks: _Optional[_Iterable[_Union[BudgetScope, _Mapping]]] = ...) -> None: ...

class RaiseBudgetRequest(_message.Message):
    __slots__ = ("run_id", "budget", "resume", "reason")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    RESUME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    budget: _common_pb2.Budget
    resume: bool
    reason: str
    def __init__(self, run_id: _Optional[str] = ..., budget: _Optional[_Union[_common_pb2.Budget, _Mapping]] = ..., resume: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class RaiseBudgetResponse(_message.Message):
    __slots__ = ("run", "run_status")
    RUN_FIELD_NUMBER: _ClassVar[int]
    RUN_STATUS_FIELD_NUMBER: _ClassVar[int]
    run: BudgetScope
    run_status: _common_pb2.RunStatus
    def __init__(self, run: _Optional[_Union[BudgetScope, _Mapping]] = ..., run_status: _Optional[_Union[_common_pb2.RunStatus, str]] = ...) -> None: ...
