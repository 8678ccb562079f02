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

class AnswerScores(_message.Message):
    __slots__ = ("grounding", "completeness", "specificity", "consistency")
    GROUNDING_FIELD_NUMBER: _ClassVar[int]
    COMPLETENESS_FIELD_NUMBER: _ClassVar[int]
    SPECIFICITY_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_FIELD_NUMBER: _ClassVar[int]
    grounding: float
    completeness: float
    specificity: float
    consistency: float
    def __init__(self, grounding: _Optional[float] = ..., completeness: _Optional[float] = ..., specificity: _Optional[float] = ..., consistency: _Optional[float] = ...) -> None: ...

class Answer(_message.Message):
    __slots__ = ("text", "answered_by", "confidence", "scores", "evidence_artifact_ids", "answered_at")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_BY_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_ARTIFACT_IDS_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_AT_FIELD_NUMBER: _ClassVar[int]
    text: str
    answered_by: str
    confidence: float
    scores: AnswerScores
    evidence_artifact_ids: _containers.RepeatedScalarFieldContainer[str]
    answered_at: _timestamp_pb2.Timestamp
    def __init__(self, text: _Optional[str] = ..., answered_by: _Optional[str] = ..., confidence: _Optional[float] = ..., scores: _Optional[_Union[AnswerScores, _Mapping]] = ..., evidence_artifact_ids: _Optional[_Iterable[str]] = ..., answered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Question(_message.Message):
    __slots__ = ("id", "run_id", "phase", "text", "rationale", "blocking", "round", "status", "answer", "assumption_id", "asked_at", "answer_deadline")
    ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    RATIONALE_FIELD_NUMBER: _ClassVar[int]
    BLOCKING_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    ASSUMPTION_ID_FIELD_NUMBER: _ClassVar[int]
    ASKED_AT_FIELD_NUMBER: _ClassVar[int]
    ANSWER_DEADLINE_FIELD_NUMBER: _ClassVar[int]
    id: str
    run_id: str
    phase: _common_pb2.Phase
    text: str
    rationale: str
    blocking: bool
    round: int
    status: _common_pb2.QuestionStatus
    answer: Answer
    assumption_id: str
    asked_at: _timestamp_pb2.Timestamp
    answer_deadline: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., run_id: _Optional[str] = ..., phase: _Optional[_Union[_common_pb2.Phase, str]] = ..., text: _Optional[str] = ..., rationale: _Optional[str] = ..., blocking: _Optional[bool] = ..., round: _Optional[int] = ..., status: _Optional[_Union[_common_pb2.QuestionStatus, str]] = ..., answer: _Optional[_Union[Answer, _Mapping]] = ..., assumption_id: _Optional[str] = ..., asked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., answer_deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Assumption(_message.Message):
    __slots__ = ("id", "run_id", "phase", "question_id", "text", "rationale", "confidence", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    QUESTION_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    RATIONALE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    run_id: str
    phase: _common_pb2.Phase
    question_id: str
    text: str
    rationale: str
    confidence: float
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., run_id: _Optional[str] = ..., phase: _Optional[_Union[_common_pb2.Phase, str]] = ..., question_id: _Optional[str] = ..., text: _Optional[str] = ..., rationale: _Optional[str] = ..., confidence: _Optional[float] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListQuestionsRequest(_message.Message):
    __slots__ = ("run_id", "phase", "statuses", "page_size", "page_token")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    phase: _common_pb2.Phase
    statuses: _containers.RepeatedScalarFieldContainer[_common_pb2.QuestionStatus]
    page_size: int
    page_token: str
    def __init__(self, run_id: _Optional[str] = ..., phase: _Optional[_Union[_common_pb2.Phase, str]] = ..., statuses: _Optional[_Iterable[_Union[_common_pb2.QuestionStatus, str]]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListQuestionsResponse(_message.Message):
    __slots__ = ("questions", "next_page_token")
    QUESTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    questions: _containers.RepeatedCompositeFieldContainer[Question]
    next_page_token: str
    def __init__(self, questions: _Optional[_Iterable[_Union[Question, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class AnswerQuestionRequest(_message.Message):
    __slots__ = ("run_id", "question_id", "answer")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    QUESTION_ID_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    question_id: str
    answer: str
    def __init__(self, run_id: _Optional[str] = ..., question_id: _Optional[str] = ..., answer: _Optional[str] = ...) -> None: ...

class AnswerQuestionResponse(_message.Message):
    __slots__ = ("question",)
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    question: Question
    def __init__(self, question: _Optional[_Union[Question, _Mapping]] = ...) -> None: ...

class ListAssumptionsRequest(_message.Message):
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

class ListAssumptionsResponse(_message.Message):
    __slots__ = ("assumptions", "next_page_token")
    ASSUMPTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    assumptions: _containers.RepeatedCompositeFieldContainer[Assumption]
    next_page_token: str
    def __init__(self, assumptions: _Optional[_Iterable[_Union[Assumption, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
