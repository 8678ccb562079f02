import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from ideamine._proto.ideamine.v1 import catalog_pb2 as _catalog_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HostState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HOST_STATE_UNSPECIFIED: _ClassVar[HostState]
    HOST_STATE_STARTING: _ClassVar[HostState]
    HOST_STATE_SERVING: _ClassVar[HostState]
    HOST_STATE_DRAINING: _ClassVar[HostState]
    HOST_STATE_STOPPED: _ClassVar[HostState]
HOST_STATE_UNSPECIFIED: HostState
HOST_STATE_STARTING: HostState
HOST_STATE_SERVING: HostState
HOST_STATE_DRAINING: HostState
HOST_STATE_STOPPED: HostState

class GetStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetStatusResponse(_message.Message):
    __slots__ = ("host_id", "state", "busy", "capacity", "running_task_ids", "version", "started_at")
    HOST_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    BUSY_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    RUNNING_TASK_IDS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    host_id: str
    state: HostState
    busy: int
    capacity: int
    running_task_ids: _containers.RepeatedScalarFieldContainer[str]
    version: str
    started_at: _timestamp_pb2.Timestamp
    def __init__(self, host_id: _Optional[str] = ..., state: _Optional[_Union[HostState, str]] = ..., busy: _Optional[int] = ..., capacity: _Optional[int] = ..., running_task_ids: _Optional[_Iterable[str]] = ..., version: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AgentHostServiceListAgentsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AgentHostServiceListAgentsResponse(_message.Message):
    __slots__ = ("agents",)
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    agents: _containers.RepeatedCompositeFieldContainer[_catalog_pb2.AgentDefinition]
    def __init__(self, agents: _Optional[_Iterable[_Union[_catalog_pb2.AgentDefinition, _Mapping]]] = ...) -> None: ...

class DrainRequest(_message.Message):
    __slots__ = ("grace_period",)
    GRACE_PERIOD_FIELD_NUMBER: _ClassVar[int]
    grace_period: _duration_pb2.Duration
    def __init__(self, grace_period: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class DrainResponse(_message.Message):
    __slots__ = ("state", "in_flight")
    STATE_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    state: HostState
    in_flight: int
    def __init__(self, state: _Optional[_Union[HostState, str]] = ..., in_flight: _Optional[int] = ...) -> None: ...

class RegisterHostRequest(_message.Message):
    __slots__ = ("host_id", "address", "version", "capacity", "agents", "labels")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    HOST_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    host_id: str
    address: str
    version: str
    capacity: int
    agents: _containers.RepeatedCompositeFieldContainer[_catalog_pb2.AgentDefinition]
    labels: _containers.ScalarMap[str, str]
    def __init__(self, host_id: _Optional[str] = ..., address: _Optional[str] = ..., version: _Optional[str] = ..., capacity: _Optional[int] = ..., agents: _Optional[_Iterable[_Union[_catalog_pb2.AgentDefinition, _Mapping]]] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class RegisterHostResponse(_message.Message):
    __slots__ = ("heartbeat_interval", "lease_expires_at")
    HEARTBEAT_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    LEASE_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    heartbeat_interval: _duration_pb2.Duration
    lease_expires_at: _timestamp_pb2.Timestamp
    def __init__(self, heartbeat_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., lease_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class HeartbeatHostRequest(_message.Message):
    __slots__ = ("host_id", "state", "busy")
    HOST_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    BUSY_FIELD_NUMBER: _ClassVar[int]
    host_id: str
    state: HostState
    busy: int
    def __init__(self, host_id: _Optional[str] = ..., state: _Optional[_Union[HostState, str]] = ..., busy: _Optional[int] = ...) -> None: ...

class HeartbeatHostResponse(_message.Message):
    __slots__ = ("lease_expires_at", "drain_requested")
    LEASE_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    DRAIN_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    lease_expires_at: _timestamp_pb2.Timestamp
    drain_requested: bool
    def __init__(self, lease_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., drain_requested: _Optional[bool] = ...) -> None: ...

class DeregisterHostRequest(_message.Message):
    __slots__ = ("host_id", "reason")
    HOST_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    host_id: str
    reason: str
    def __init__(self, host_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class DeregisterHostResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
