"""Hypothesis strategies for any protobuf message, built from its descriptor.

One generic strategy instead of forty hand-written ones: :func:`messages` walks a
message descriptor and draws every field by its wire type — strings (random text,
UUIDs, hints such as real run ids, very long text), integers at and beyond the
boundaries of their width, floats including NaN and infinities, open enums with
unknown numbers, nested messages to a bounded depth, repeated fields, maps and
oneofs (at most one member set). A new field in a ``.proto`` file is fuzzed without
touching this module.

Hints bias strings and enums toward values the server knows (an existing run id, a
phase name), so examples get past "not found" into the deeper validation code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from google.protobuf import message_factory  # type: ignore[import-untyped]
from google.protobuf.descriptor import Descriptor, FieldDescriptor  # type: ignore[import-untyped]
from hypothesis import strategies as st

__all__ = ["messages", "INT_RANGES"]

F = FieldDescriptor

#: (min, max) of each integer wire type
INT_RANGES: dict[int, tuple[int, int]] = {
    F.TYPE_INT32: (-(2**31), 2**31 - 1),
    F.TYPE_SINT32: (-(2**31), 2**31 - 1),
    F.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    F.TYPE_INT64: (-(2**63), 2**63 - 1),
    F.TYPE_SINT64: (-(2**63), 2**63 - 1),
    F.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    F.TYPE_UINT32: (0, 2**32 - 1),
    F.TYPE_FIXED32: (0, 2**32 - 1),
    F.TYPE_UINT64: (0, 2**64 - 1),
    F.TYPE_FIXED64: (0, 2**64 - 1),
}

#: strings that often break parsers: empty, blank, control characters, SQL/JSON/path/markup
#: fragments, a base64 page token lookalike and a long value
_NASTY_STRINGS = (
    "",
    " ",
    "\x00",
    "\u202e\ufeff",
    "' OR 1=1 --",
    '{"$gt": ""}',
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "eyJvZmZzZXQiOiAtMX0=",
    "%s%n%x",
    "x" * 70_000,
)


def _integers(field: FieldDescriptor) -> st.SearchStrategy[int]:
    lo, hi = INT_RANGES[field.type]
    edges = [v for v in (lo, hi, -1, 0, 1, 100, 1001, 10**6) if lo <= v <= hi]
    return st.one_of(st.sampled_from(edges), st.integers(lo, hi), st.integers(max(lo, -3), min(hi, 300)))


def _strings(field: FieldDescriptor, hints: Mapping[str, Sequence[str]]) -> st.SearchStrategy[str]:
    options: list[st.SearchStrategy[str]] = [
        st.text(max_size=40),
        st.uuids().map(str),
        st.sampled_from(_NASTY_STRINGS),
    ]
    known = [*hints.get(field.name, ()), *hints.get("*", ())]
    if known:
        options.append(st.sampled_from(known))
    return st.one_of(*options)


def _scalar(field: FieldDescriptor, hints: Mapping[str, Sequence[str]]) -> st.SearchStrategy[Any]:
    t = field.type
    if t == F.TYPE_STRING:
        return _strings(field, hints)
    if t == F.TYPE_BYTES:
        return st.binary(max_size=64)
    if t == F.TYPE_BOOL:
        return st.booleans()
    if t in INT_RANGES:
        return _integers(field)
    if t == F.TYPE_DOUBLE:
        return st.floats(allow_nan=True, allow_infinity=True)
    if t == F.TYPE_FLOAT:
        return st.floats(allow_nan=True, allow_infinity=True, width=32)
    if t == F.TYPE_ENUM:
        known = [v.number for v in field.enum_type.values]
        return st.one_of(st.sampled_from(known), st.integers(-5, 2**31 - 1))  # proto3 enums are open
    raise TypeError(f"unsupported field type {t} of {field.full_name}")


def _value(field: FieldDescriptor, depth: int, hints: Mapping[str, Sequence[str]]) -> st.SearchStrategy[Any]:
    if field.type == F.TYPE_MESSAGE:
        return _message_dict(field.message_type, depth + 1, hints)
    return _scalar(field, hints)


def _is_map(field: FieldDescriptor) -> bool:
    return bool(
        field.type == F.TYPE_MESSAGE and field.message_type.GetOptions().map_entry  # type: ignore[union-attr]
    )


@st.composite
def _message_dict(
    draw: st.DrawFn, descriptor: Descriptor, depth: int, hints: Mapping[str, Sequence[str]]
) -> Any:
    """Field name → value for one message (None past the depth limit: the field stays unset)."""
    if depth > 3:
        return None
    out: dict[str, Any] = {}
    chosen_oneofs: set[str] = set()
    for field in descriptor.fields:
        oneof = field.containing_oneof
        if oneof is not None and oneof.name in chosen_oneofs:
            continue
        if not draw(st.booleans()):
            continue
        if _is_map(field):
            key_f = field.message_type.fields_by_name["key"]
            val_f = field.message_type.fields_by_name["value"]
            out[field.name] = draw(
                st.dictionaries(_scalar(key_f, hints), _value(val_f, depth, hints), max_size=3)
            )
        elif field.is_repeated:
            out[field.name] = draw(st.lists(_value(field, depth, hints), max_size=4))
        else:
            out[field.name] = draw(_value(field, depth, hints))
        if oneof is not None:
            chosen_oneofs.add(oneof.name)
    return out


def _fill(message: Any, values: Mapping[str, Any]) -> None:
    descriptor = message.DESCRIPTOR
    for name, value in values.items():
        field = descriptor.fields_by_name[name]
        if value is None:
            continue
        if _is_map(field):
            target = getattr(message, name)
            for k, v in value.items():
                if field.message_type.fields_by_name["value"].type == F.TYPE_MESSAGE:
                    if v is not None:
                        _fill(target[k], v)
                else:
                    target[k] = v
        elif field.is_repeated:
            target = getattr(message, name)
            for v in value:
                if field.type == F.TYPE_MESSAGE:
                    if v is not None:
                        _fill(target.add(), v)
                else:
                    target.append(v)
        elif field.type == F.TYPE_MESSAGE:
            getattr(message, name).SetInParent()
            _fill(getattr(message, name), value)
        else:
            setattr(message, name, value)


def messages(
    descriptor: Descriptor, *, hints: Mapping[str, Sequence[str]] | None = None
) -> st.SearchStrategy[Any]:
    """Messages of ``descriptor`` with arbitrary field values (see the module docstring).

    Args:
        descriptor: the message type.
        hints: field name → known-good strings to mix in (``"*"``: for every string field).
    """
    cls = message_factory.GetMessageClass(descriptor)

    def build(values: Mapping[str, Any]) -> Any:
        message = cls()
        _fill(message, values or {})
        return message

    return _message_dict(descriptor, 0, hints or {}).map(build)
