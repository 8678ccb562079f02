from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from ideamine._proto.ideamine.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TaskDefinition(_message.Message):
    __slots__ = ("key", "produces", "after", "per_story")
    KEY_FIELD_NUMBER: _ClassVar[int]
    PRODUCES_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    PER_STORY_FIELD_NUMBER: _ClassVar[int]
    key: str
    produces: _containers.RepeatedScalarFieldContainer[str]
    after: _containers.RepeatedScalarFieldContainer[str]
    per_story: bool
    def __init__(self, key: _Optional[str] = ..., produces: _Optional[_Iterable[str]] = ..., after: _Optional[_Iterable[str]] = ..., per_story: _Optional[bool] = ...) -> None: ...

class MetricDefinition(_message.Message):
    __slots__ = ("name", "op", "threshold", "threshold_high", "weight", "required", "never_waivable")
    NAME_FIELD_NUMBER: _ClassVar[int]
    OP_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_HIGH_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    NEVER_WAIVABLE_FIELD_NUMBER: _ClassVar[int]
    name: str
    op: str
    threshold: float
    threshold_high: float
    weight: float
    required: bool
    never_waivable: bool
    def __init__(self, name: _Optional[str] = ..., op: _Optional[str] = ..., threshold: _Optional[float] = ..., threshold_high: _Optional[float] = ..., weight: _Optional[float] = ..., required: _Optional[bool] = ..., never_waivable: _Optional[bool] = ...) -> None: ...

class GateDefinition(_message.Message):
    __slots__ = ("min_score", "max_attempts", "metrics")
    MIN_SCORE_FIELD_NUMBER: _ClassVar[int]
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    min_score: float
    max_attempts: int
    metrics: _containers.RepeatedCompositeFieldContainer[MetricDefinition]
    def __init__(self, min_score: _Optional[float] = ..., max_attempts: _Optional[int] = ..., metrics: _Optional[_Iterable[_Union[MetricDefinition, _Mapping]]] = ...) -> None: ...

class QavLimits(_message.Message):
    __slots__ = ("max_questions", "max_rounds")
    MAX_QUESTIONS_FIELD_NUMBER: _ClassVar[int]
    MAX_ROUNDS_FIELD_NUMBER: _ClassVar[int]
    max_questions: int
    max_rounds: int
    def __init__(self, max_questions: _Optional[int] = ..., max_rounds: _Optional[int] = ...) -> None: ...

class PhaseDefinition(_message.Message):
    __slots__ = ("phase", "name", "index", "needs", "parallelism", "tasks", "gate", "budget", "qav", "artifact_types")
    PHASE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    NEEDS_FIELD_NUMBER: _ClassVar[int]
    PARALLELISM_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    GATE_FIELD_NUMBER: _ClassVar[int]
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    QAV_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_TYPES_FIELD_NUMBER: _ClassVar[int]
    phase: _common_pb2.Phase
    name: str
    index: int
    needs: _containers.RepeatedScalarFieldContainer[_common_pb2.Phase]
    parallelism: int
    tasks: _containers.RepeatedCompositeFieldContainer[TaskDefinition]
    gate: GateDefinition
    budget: _common_pb2.Budget
    qav: QavLimits
    artifact_types: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, phase: _Optional[_Union[_common_pb2.Phase, str]] = ..., name: _Optional[str] = ..., index: _Optional[int] = ..., needs: _Optional[_Iterable[_Union[_common_pb2.Phase, str]]] = ..., parallelism: _Optional[int] = ..., tasks: _Optional[_Iterable[_Union[TaskDefinition, _Mapping]]] = ..., gate: _Optional[_Union[GateDefinition, _Mapping]] = ..., budget: _Optional[_Union[_common_pb2.Budget, _Mapping]] = ..., qav: _Optional[_Union[QavLimits, _Mapping]] = ..., artifact_types: _Optional[_Iterable[str]] = ...) -> None: ...

class AgentDefinition(_message.Message):
    __slots__ = ("name", "version", "phase", "task_key", "produces", "consumes", "description", "plugin", "host_ids")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    TASK_KEY_FIELD_NUMBER: _ClassVar[int]
    PRODUCES_FIELD_NUMBER: _ClassVar[int]
    CONSUMES_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PLUGIN_FIELD_NUMBER: _ClassVar[int]
    HOST_IDS_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    phase: _common_pb2.Phase
    task_key: str
    produces: _containers.RepeatedScalarFieldContainer[str]
    consumes: _containers.RepeatedScalarFieldContainer[str]
    description: str
    plugin: str
    host_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., phase: _Optional[_Union[_common_pb2.Phase, str]] = ..., task_key: _Optional[str] = ..., produces: _Optional[_Iterable[str]] = ..., consumes: _Optional[_Iterable[str]] = ..., description: _Optional[str] = ..., plugin: _Optional[str] = ..., host_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ListPhasesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPhasesResponse(_message.Message):
    __slots__ = ("phases", "next_page_token")
    PHASES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    phases: _containers.RepeatedCompositeFieldContainer[PhaseDefinition]
    next_page_token: str
    def __init__(self, phases: _Optional[_Iterable[_Union[PhaseDefinition, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetPhaseRequest(_message.Message):
    __slots__ = ("phase",)
    PHASE_FIELD_NUMBER: _ClassVar[int]
    phase: _common_pb2.Phase
    def __init__(self, phase: _Optional[_Union[_common_pb2.Phase, str]] = ...) -> None: ...

class GetPhaseResponse(_message.Message):
    __slots__ = ("phase",)
    PHASE_FIELD_NUMBER: _ClassVar[int]
    phase: PhaseDefinition
    def __init__(self, phase: _Optional[_Union[PhaseDefinition, _Mapping]] = ...) -> None: ...

class ListAgentsRequest(_message.Message):
    __slots__ = ("phase", "page_size", "page_token")
    PHASE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    phase: _common_pb2.Phase
    page_size: int
    page_token: str
    def __init__(self, phase: _Optional[_Union[_common_pb2.Phase, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAgentsResponse(_message.Message):
    __slots__ = ("agents", "next_page_token")
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    agents: _containers.RepeatedCompositeFieldContainer[AgentDefinition]
    next_page_token: str
    def __init__(self, agents: _Optional[_Iterable[_Union[AgentDefinition, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetAgentRequest(_message.Message):
    __slots__ = ("agent_name",)
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    agent_name: str
    def __init__(self, agent_name: _Optional[str] = ...) -> None: ...

class GetAgentResponse(_message.Message):
    __slots__ = ("agent",)
    AGENT_FIELD_NUMBER: _ClassVar[int]
    agent: AgentDefinition
    def __init__(self, agent: _Optional[_Union[AgentDefinition, _Mapping]] = ...) -> None: ...
