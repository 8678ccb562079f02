"""What travels on the queue: task messages, completion notices and dead letters.

A stream entry is a flat map of field → value. Each message type encodes itself to such
a map with a schema version ``v`` and decodes from one (``bytes`` or ``str`` keys and
values, as Redis or the in-memory queue hand them back). Decoding is strict: a missing
field, a bad number, an unknown version or a foreign status raises
:class:`MalformedMessage`, and the queue dead-letters the entry instead of handing a
half-understood task to an agent.

A message is a *pointer* to durable state, not the state itself: the task's input lives
in the store, so a message carries only what a worker needs to fetch, fence and trace it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar, cast

from ideamine.enums import TaskStatus
from ideamine.errors import IdeaMineError

__all__ = [
    "SCHEMA_VERSION",
    "MalformedMessage",
    "TaskMessage",
    "Notice",
    "Delivery",
    "DeadLetter",
    "Fields",
    "RawFields",
]

#: Version written into every entry's ``v`` field; decoders refuse any other.
SCHEMA_VERSION = 1

#: What ``encode()`` produces: the field map of one stream entry.
Fields = dict[str, str | bytes]
#: What a backend hands back: keys and values as ``bytes`` (Redis) or ``str`` (memory).
RawFields = Mapping[str, str | bytes] | Mapping[bytes, bytes]

#: Fields the queue adds to an entry when it moves it to the dead-letter stream.
DL_REASON = "dl_reason"
DL_SOURCE_ID = "dl_source_id"
DL_DELIVERIES = "dl_deliveries"
DL_CONSUMER = "dl_consumer"


class MalformedMessage(IdeaMineError):
    """A stream entry that is not a valid message of a version we understand.

    Not retryable: the same bytes will never decode. The queue dead-letters such
    entries with this error's message as the reason.
    """

    reason = "MALFORMED_MESSAGE"


#: One reusable encoder: ``json.dumps`` with options builds a new encoder per call.
_dump_json = json.JSONEncoder(separators=(",", ":"), sort_keys=True).encode
_load_json = json.JSONDecoder().decode


def _text(value: str | bytes) -> str:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedMessage(f"field is not UTF-8: {exc}") from None
    return value


def normalise(fields: RawFields) -> dict[str, str]:
    """Decode a raw entry to ``str → str`` (bytes are UTF-8, else MalformedMessage)."""
    if fields and next(iter(fields)).__class__ is bytes:
        try:  # the Redis hot path: all bytes, decoded in C-level map calls
            raw = cast(Mapping[bytes, bytes], fields)
            return dict(zip(map(bytes.decode, raw.keys()), map(bytes.decode, raw.values()), strict=True))
        except (TypeError, UnicodeDecodeError):
            pass  # mixed types or bad bytes: the slow path names the problem
    elif all(k.__class__ is str and v.__class__ is str for k, v in fields.items()):
        return dict(fields)  # type: ignore[arg-type]  # the in-memory queue's hot path
    return {_text(k): _text(v) for k, v in fields.items()}


def _require(d: Mapping[str, str], name: str) -> str:
    value = d.get(name, "")
    if not value:
        raise MalformedMessage(f"missing field {name!r}")
    return value


def _positive_int(d: Mapping[str, str], name: str) -> int:
    raw = _require(d, name)
    try:
        value = int(raw)
    except ValueError:
        raise MalformedMessage(f"field {name!r} is not an integer: {raw[:40]!r}") from None
    if value < 1:
        raise MalformedMessage(f"field {name!r} must be >= 1, got {value}")
    return value


def _check_version(d: Mapping[str, str]) -> None:
    raw = d.get("v", "")
    if raw != str(SCHEMA_VERSION):
        raise MalformedMessage(
            f"unsupported message version {raw[:20]!r} (this build reads v{SCHEMA_VERSION})"
        )


@dataclass(frozen=True)
class TaskMessage:
    """A task to run, as published to the tasks stream.

    Attributes:
        task_id: the task row's id; the worker loads the input from the store by it.
        run_id: the run, for logging and routing without a store round trip.
        phase: the phase name.
        agent: the agent name the task is for.
        attempt: the store's attempt number; the worker fences its writes with it.
        idempotency_key: lets a worker skip (and ack) a task whose effect is committed.
        deadline: ISO-8601 with offset, or None when the task has no deadline.
        trace: W3C trace context (``traceparent``, optionally ``tracestate``) so the
            agent host's span continues the orchestrator's trace.
        v: schema version; always :data:`SCHEMA_VERSION` for messages built here.
    """

    task_id: str
    run_id: str
    phase: str
    agent: str
    attempt: int
    idempotency_key: str
    deadline: str | None = None
    trace: dict[str, str] = field(default_factory=dict)
    v: int = SCHEMA_VERSION

    def encode(self) -> Fields:
        """The entry's field map (``deadline`` "" when None, ``trace`` as JSON)."""
        return {
            "v": str(self.v),
            "task_id": self.task_id,
            "run_id": self.run_id,
            "phase": self.phase,
            "agent": self.agent,
            "attempt": str(self.attempt),
            "idempotency_key": self.idempotency_key,
            "deadline": self.deadline or "",
            "trace": _dump_json(self.trace) if self.trace else "",
        }

    @classmethod
    def decode(cls, fields: RawFields) -> TaskMessage:
        """Parse an entry; raises MalformedMessage for anything we cannot trust."""
        d = normalise(fields)
        _check_version(d)
        deadline = d.get("deadline") or None
        if deadline is not None:
            try:
                parsed = datetime.fromisoformat(deadline)
            except ValueError:
                raise MalformedMessage(f"deadline is not ISO-8601: {deadline[:40]!r}") from None
            if parsed.tzinfo is None:
                raise MalformedMessage("deadline has no UTC offset")
        return cls(
            task_id=_require(d, "task_id"),
            run_id=_require(d, "run_id"),
            phase=_require(d, "phase"),
            agent=_require(d, "agent"),
            attempt=_positive_int(d, "attempt"),
            idempotency_key=_require(d, "idempotency_key"),
            deadline=deadline,
            trace=_decode_trace(d.get("trace", "")),
        )


def _decode_trace(raw: str) -> dict[str, str]:
    if not raw:
        return {}
    try:
        value: Any = _load_json(raw)
    except ValueError:
        raise MalformedMessage("trace is not JSON") from None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise MalformedMessage("trace must be a JSON object of strings")
    return value


@dataclass(frozen=True)
class Notice:
    """A completion notice: a worker finished (or gave up on) one attempt of a task.

    The orchestrator consumes notices to wake the phase waiting for the task; the
    store, not the notice, holds the result, so a lost notice only delays (the
    orchestrator also polls) and a duplicate is harmless.
    """

    task_id: str
    run_id: str
    attempt: int
    status: TaskStatus
    phase: str
    v: int = SCHEMA_VERSION

    def encode(self) -> Fields:
        """The entry's field map."""
        return {
            "v": str(self.v),
            "task_id": self.task_id,
            "run_id": self.run_id,
            "attempt": str(self.attempt),
            "status": self.status.value,
            "phase": self.phase,
        }

    @classmethod
    def decode(cls, fields: RawFields) -> Notice:
        """Parse an entry; raises MalformedMessage for anything we cannot trust."""
        d = normalise(fields)
        _check_version(d)
        status = _require(d, "status")
        if status not in TaskStatus.__members__:
            raise MalformedMessage(f"unknown task status {status[:40]!r}")
        return cls(
            task_id=_require(d, "task_id"),
            run_id=_require(d, "run_id"),
            attempt=_positive_int(d, "attempt"),
            status=TaskStatus(status),
            phase=_require(d, "phase"),
        )

    def to_payload(self) -> dict[str, Any]:
        """JSON form for an outbox row (``RunStore.commit_task_result(notice=...)``)."""
        return {k: v for k, v in self.encode().items() if k != "v"} | {"attempt": self.attempt}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Notice:
        """Inverse of :meth:`to_payload`; MalformedMessage when fields are missing."""
        fields: Fields = {k: str(v) for k, v in payload.items()}
        fields["v"] = str(SCHEMA_VERSION)
        return cls.decode(fields)


M = TypeVar("M", TaskMessage, Notice)


@dataclass(frozen=True)
class Delivery(Generic[M]):
    """One message handed to one consumer; keep it to ack, extend or dead-letter it.

    Attributes:
        message: the decoded message.
        entry_id: the stream entry id (``"<ms>-<seq>"``).
        deliveries: how many times the entry has been delivered, this one included.
        consumer: the consumer that holds it now.
    """

    message: M
    entry_id: str
    deliveries: int
    consumer: str


@dataclass(frozen=True)
class DeadLetter:
    """An entry moved to the dead-letter stream, and why.

    Attributes:
        entry_id: the id in the *source* stream (the tasks stream).
        reason: why it was given up on (too many deliveries, malformed, agent poison…).
        deliveries: delivery count when it was dead-lettered.
        consumer: the consumer that held it last ("" if never delivered).
        message: the decoded task, or None when the entry was malformed.
        fields: the original fields, verbatim, so an operator can inspect or replay them.
    """

    entry_id: str
    reason: str
    deliveries: int
    consumer: str
    message: TaskMessage | None
    fields: dict[str, str]

    def encode(self) -> Fields:
        """The dead-letter entry: the original fields plus the ``dl_*`` fields."""
        out: Fields = dict(self.fields)
        out[DL_REASON] = self.reason
        out[DL_SOURCE_ID] = self.entry_id
        out[DL_DELIVERIES] = str(self.deliveries)
        out[DL_CONSUMER] = self.consumer
        return out

    @classmethod
    def decode(cls, fields: RawFields) -> DeadLetter:
        """Parse a dead-letter entry (never raises for a malformed original)."""
        d = normalise(fields)
        original = {k: v for k, v in d.items() if not k.startswith("dl_")}
        return cls.of(
            d.get(DL_SOURCE_ID, ""),
            original,
            reason=d.get(DL_REASON, ""),
            deliveries=int(d.get(DL_DELIVERIES, "0") or 0),
            consumer=d.get(DL_CONSUMER, ""),
        )

    @classmethod
    def of(
        cls, entry_id: str, fields: RawFields, *, reason: str, deliveries: int, consumer: str
    ) -> DeadLetter:
        """Build a dead letter from a raw source entry, decoding its task if possible."""
        try:
            original = normalise(fields)
        except MalformedMessage:
            original = {_lossy(k): _lossy(v) for k, v in fields.items()}
        try:
            message: TaskMessage | None = TaskMessage.decode(original)
        except MalformedMessage:
            message = None
        return cls(entry_id, reason, deliveries, consumer, message, original)


def _lossy(value: str | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
