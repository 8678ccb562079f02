"""Hypothesis strategies for hostile artifact contents and model outputs.

- :data:`json_values`: any JSON document, small;
- :func:`deep`: lists/objects nested hundreds to thousands of levels;
- :func:`huge`: documents of one to several MB;
- :data:`unjsonable`: Python values no JSON encoder takes (NaN, bytes, sets, objects);
- :data:`hostile`: all of the above, for "anything an agent or a model may hand back".

Deep and huge documents come wrapped in :class:`Opaque` (a short ``repr``): Hypothesis
prints the arguments of a failing example, and its printer recurses per nesting level.
:func:`unwrap` returns the value itself.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

__all__ = ["MB", "Opaque", "deep", "huge", "hostile", "json_values", "unjsonable", "unwrap"]

MB = 1 << 20


class Opaque:
    """A generated value shown by a label instead of its (enormous) ``repr``."""

    def __init__(self, value: Any, label: str) -> None:
        self.value = value
        self.label = label

    def __repr__(self) -> str:
        return self.label


def unwrap(value: Any) -> Any:
    """The value inside an :class:`Opaque`, or ``value`` itself."""
    return value.value if isinstance(value, Opaque) else value


json_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=15,
)


def _nest(depth: int, as_object: bool, wrapped: bool) -> Opaque:
    value: Any = "bottom"
    for i in range(depth):
        value = {f"k{i % 7}": value} if as_object else [value]
    if wrapped:
        value = {"title": "deep", "items": value}
    return Opaque(value, f"deep(depth={depth}, objects={as_object}, wrapped={wrapped})")


def deep(min_depth: int = 200, max_depth: int = 5000) -> st.SearchStrategy[Opaque]:
    """A chain of nested lists or objects (optionally under a valid-looking top level)."""
    return st.builds(_nest, st.integers(min_depth, max_depth), st.booleans(), st.booleans())


def _huge(n: int, one_string: bool) -> Opaque:
    items = ["x" * n] if one_string else ["y" * 4096] * (n // 4096)
    return Opaque({"title": "huge", "items": items}, f"huge(bytes={n}, one_string={one_string})")


def huge(min_mb: int = 1, max_mb: int = 4) -> st.SearchStrategy[Opaque]:
    """A (schema-valid) document of ``min_mb``..``max_mb`` MB: one long string, or many medium ones."""
    return st.builds(_huge, st.integers(min_mb * MB, max_mb * MB), st.booleans())


unjsonable: st.SearchStrategy[Any] = st.sampled_from(
    [
        {"title": float("nan"), "items": []},
        {"title": "inf", "items": [float("inf")]},
        {"title": b"bytes", "items": []},
        {"title": "set", "items": {"a", "b"}},
        {"title": "object", "items": [object()]},
        {("tuple", "key"): 1},
        {"title": "\ud800 lone surrogate", "items": []},
        {"title": "nul \x00 byte", "items": ["\x00"]},
    ]
)

hostile: st.SearchStrategy[Any] = st.one_of(json_values, deep(), huge(), unjsonable)
