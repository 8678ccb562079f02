"""Wire-level conversions: enums and phase names, timestamps, Structs, JSON output.

A Python enum ``RunStatus.AWAITING_INPUT`` is the proto value ``RUN_STATUS_AWAITING_INPUT``
(type name in upper snake case as the prefix, as buf's ENUM_VALUE_PREFIX rule demands); a
catalogue phase ``"story-loop"`` is ``PHASE_STORY_LOOP``. The mapping is computed from the
generated descriptors, so there is no second table to keep in sync, and ``tests/contracts``
pins that both sides list the same members.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from google.protobuf import json_format, struct_pb2, timestamp_pb2  # type: ignore[import-untyped]

from ideamine._proto.ideamine.v1 import (
    common_pb2,
)
from ideamine.errors import InvalidInput

__all__ = [
    "enum_from_proto",
    "enum_prefix",
    "enum_to_proto",
    "from_struct",
    "message_to_json",
    "optional_phase",
    "phase_from_proto",
    "phase_or_unspecified",
    "phase_to_proto",
    "stub_enum",
    "timestamp",
    "to_struct",
]


E = TypeVar("E", bound=StrEnum)

_PHASE_PREFIX = "PHASE_"


def enum_prefix(type_name: str) -> str:
    """The value prefix of a proto enum: ``RunStatus`` → ``RUN_STATUS_``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type_name).upper() + "_"


def _proto_enum(type_name: str) -> object:
    try:
        return common_pb2.DESCRIPTOR.enum_types_by_name[type_name]
    except KeyError:
        raise TypeError(f"{type_name} has no proto enum in ideamine/v1/common.proto") from None


def enum_to_proto(value: StrEnum) -> int:
    """The proto number of a domain enum member, e.g. ``RunStatus.RUNNING`` → 2."""
    name = type(value).__name__
    desc = _proto_enum(name)
    return int(desc.values_by_name[enum_prefix(name) + value.value].number)  # type: ignore[attr-defined]


def enum_from_proto(cls: type[E], number: int, *, field: str = "") -> E:
    """The domain member for a proto number; ``*_UNSPECIFIED`` and unknown numbers are refused.

    Args:
        cls: the domain enum, e.g. :class:`ideamine.enums.RunStatus`.
        number: the value received on the wire.
        field: request field name, reported in the field violation.

    Raises:
        InvalidInput: the number is unspecified or not a member.
    """
    desc = _proto_enum(cls.__name__)
    value = desc.values_by_number.get(number)  # type: ignore[attr-defined]
    prefix = enum_prefix(cls.__name__)
    if value is None or value.number == 0:
        raise InvalidInput(f"{field or cls.__name__} must be a valid {cls.__name__}", field=field or None)
    return cls(value.name.removeprefix(prefix))


def phase_to_proto(name: str) -> int:
    """The ``Phase`` number of a catalogue phase name: ``"story-loop"`` → ``PHASE_STORY_LOOP``."""
    try:
        return int(common_pb2.Phase.Value(_PHASE_PREFIX + name.upper().replace("-", "_")))
    except ValueError:
        raise InvalidInput(f"unknown phase {name!r}", field="phase") from None


def phase_from_proto(number: int, *, field: str = "phase") -> str:
    """The catalogue phase name of a ``Phase`` number: ``PHASE_STORY_LOOP`` → ``"story-loop"``.

    Raises:
        InvalidInput: the number is ``PHASE_UNSPECIFIED`` or unknown.
    """
    value = common_pb2.Phase.DESCRIPTOR.values_by_number.get(number)
    if value is None or value.number == 0:
        raise InvalidInput(f"{field} must name a phase", field=field)
    return str(value.name).removeprefix(_PHASE_PREFIX).lower().replace("_", "-")


def timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    """A proto Timestamp of an aware datetime (None stays None, leaving the field unset)."""
    if value is None:
        return None
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value)
    return ts


def to_struct(value: Mapping[str, Any] | None) -> struct_pb2.Struct:
    """A ``google.protobuf.Struct`` of a JSON object."""
    s = struct_pb2.Struct()
    if value:
        s.update(dict(value))
    return s


def from_struct(value: struct_pb2.Struct) -> dict[str, Any]:
    """The JSON object of a Struct (numbers come back as floats, as JSON has them)."""
    return dict(json_format.MessageToDict(value))


def stub_enum(value: StrEnum) -> Any:
    """:func:`enum_to_proto`, typed as the generated stubs' enum types (they take the number)."""
    return enum_to_proto(value)


def message_to_json(message: Any) -> str:
    """A message as indented JSON with proto field names (CLI output)."""
    return str(json_format.MessageToJson(message, preserving_proto_field_name=True, indent=2))


def phase_or_unspecified(name: str | None) -> Any:
    """``phase_to_proto`` for stored names, PHASE_UNSPECIFIED for None or a name the proto lacks.

    Typed ``Any`` because the generated stubs type enum fields by their enum class.
    """
    if not name:
        return 0
    try:
        return phase_to_proto(name)
    except InvalidInput:
        return 0


def optional_phase(number: int, *, field: str = "phase") -> str | None:
    """A phase filter: ``PHASE_UNSPECIFIED`` means "all" (None), any other number must be a phase."""
    return None if number == 0 else phase_from_proto(number, field=field)
