import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from ideamine._proto.ideamine.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DossierFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DOSSIER_FORMAT_UNSPECIFIED: _ClassVar[DossierFormat]
    DOSSIER_FORMAT_MARKDOWN: _ClassVar[DossierFormat]
    DOSSIER_FORMAT_JSON: _ClassVar[DossierFormat]
DOSSIER_FORMAT_UNSPECIFIED: DossierFormat
DOSSIER_FORMAT_MARKDOWN: DossierFormat
DOSSIER_FORMAT_JSON: DossierFormat

class Artifact(_message.Message):
    __slots__ = ("id", "run_id", "phase", "type", "version", "sha256", "model", "agent", "task_id", "content", "input_artifact_ids", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    INPUT_ARTIFACT_IDS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    run_id: str
    phase: _common_pb2.Phase
    type: str
    version: int
    sha256: str
    model: str
    agent: str
    task_id: str
    content: _struct_pb2.Struct
    input_artifact_ids: _containers.RepeatedScalarFieldContainer[str]
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., run_id: _Optional[str] = ..., phase: _Optional[_Union[_common_pb2.Phase, str]] = ..., type: _Optional[str] = ..., version: _Optional[int] = ..., sha256: _Optional[str] = ..., model: _Optional[str] = ..., agent: _Optional[str] = ..., task_id: _Optional[str] = ..., content: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., input_artifact_ids: _Optional[_Iterable[str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListArtifactsRequest(_message.Message):
    __slots__ = ("run_id", "phase", "type", "latest_only", "omit_content", "page_size", "page_token")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    LATEST_ONLY_FIELD_NUMBER: _ClassVar[int]
    OMIT_CONTENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    phase: _common_pb2.Phase
    type: str
    latest_only: bool
    omit_content: bool
    page_size: int
    page_token: str
    def __init__(self, run_id: _Optional[str] = ..., phase: _Optional[_Union[_common_pb2.Phase, str]] = ..., type: _Optional[str] = ..., latest_only: _Optional[bool] = ..., omit_content: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListArtifactsResponse(_message.Message):
    __slots__ = ("artifacts", "next_page_token")
    ARTIFACTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    artifacts: _containers.RepeatedCompositeFieldContainer[Artifact]
    next_page_token: str
    def __init__(self, artifacts: _Optional[_Iterable[_Union[Artifact, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetArtifactRequest(_message.Message):
    __slots__ = ("run_id", "artifact_id")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    artifact_id: str
    def __init__(self, run_id: _Optional[str] = ..., artifact_id: _Optional[str] = ...) -> None: ...

class GetArtifactResponse(_message.Message):
    __slots__ = ("artifact",)
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    artifact: Artifact
    def __init__(self, artifact: _Optional[_Union[Artifact, _Mapping]] = ...) -> None: ...

class RenderArtifactRequest(_message.Message):
    __slots__ = ("run_id", "artifact_id")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    artifact_id: str
    def __init__(self, run_id: _Optional[str] = ..., artifact_id: _Optional[str] = ...) -> None: ...

class RenderArtifactResponse(_message.Message):
    __slots__ = ("artifact_id", "markdown")
    ARTIFACT_ID_FIELD_NUMBER: _ClassVar[int]
    MARKDOWN_FIELD_NUMBER: _ClassVar[int]
    artifact_id: str
    markdown: str
    def __init__(self, artifact_id: _Optional[str] = ..., markdown: _Optional[str] = ...) -> None: ...

class ExportDossierRequest(_message.Message):
    __slots__ = ("run_id", "format")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    format: DossierFormat
    def __init__(self, run_id: _Optional[str] = ..., format: _Optional[_Union[DossierFormat, str]] = ...) -> None: ...

class ExportDossierResponse(_message.Message):
    __slots__ = ("run_id", "format", "content_type", "content", "artifact_ids", "sha256")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_IDS_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    format: DossierFormat
    content_type: str
    content: str
    artifact_ids: _containers.RepeatedScalarFieldContainer[str]
    sha256: str
    def __init__(self, run_id: _Optional[str] = ..., format: _Optional[_Union[DossierFormat, str]] = ..., content_type: _Optional[str] = ..., content: _Optional[str] = ..., artifact_ids: _Optional[_Iterable[str]] = ..., sha256: _Optional[str] = ...) -> None: ...
