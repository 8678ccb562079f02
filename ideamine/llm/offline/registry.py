"""Which generator builds which artifact type, and the schema fit every output goes through."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from ideamine.llm.offline.ctx import JSON, Ctx
from ideamine.schemas import load_schema

__all__ = ["generator", "produce", "generate", "supported_types"]

Generator = Callable[[Ctx], JSON]

_GENERATORS: dict[str, Generator] = {}
_MODULES = (
    "early",
    "critique",
    "product",
    "bizdev",
    "engineering",
    "security",
    "delivery",
    "release",
    "clarify",
)
_loaded = False


def generator(artifact_type: str) -> Callable[[Generator], Generator]:
    """Register ``fn`` as the generator of ``artifact_type``."""

    def register(fn: Generator) -> Generator:
        if artifact_type in _GENERATORS:
            raise ValueError(f"two offline generators for {artifact_type!r}")
        _GENERATORS[artifact_type] = fn
        return fn

    return register


def _load() -> None:
    global _loaded
    if not _loaded:
        for name in _MODULES:
            importlib.import_module(f"ideamine.llm.offline.{name}")
        _loaded = True


def supported_types() -> frozenset[str]:
    """Every artifact type the offline model can build."""
    _load()
    return frozenset(_GENERATORS)


def produce(ctx: Ctx, schema: Mapping[str, Any] | None = None) -> JSON:
    """Run the generator of ``ctx.type`` and fit its output to ``schema`` (the shipped one by default)."""
    _load()
    try:
        fn = _GENERATORS[ctx.type]
    except KeyError:
        raise KeyError(f"the offline model has no generator for {ctx.type!r}") from None
    fitted: JSON = fit(fn(ctx), schema if schema is not None else load_schema(ctx.type))
    return fitted


def generate(artifact_type: str, context: Mapping[str, Any], schema: Mapping[str, Any] | None = None) -> JSON:
    """Build one artifact of ``artifact_type`` from a request ``context`` (see ideamine.llm.base).

    ``schema`` is the request's (an agent may declare its own, e.g. the clarifier's Q/A types).
    """
    return produce(Ctx(artifact_type, context), schema)


def fit(value: Any, schema: Mapping[str, Any]) -> Any:
    """Clip strings and arrays to the schema's maxLength/maxItems (the generators aim inside
    them; this makes an idea with very long clauses still yield a valid artifact)."""
    if isinstance(value, dict):
        props = schema.get("properties", {})
        return {k: fit(v, props.get(k, {})) for k, v in value.items()}
    if isinstance(value, list):
        items = schema.get("items", {})
        limit = schema.get("maxItems")
        kept = value if limit is None else value[:limit]
        return [fit(v, items) for v in kept]
    if isinstance(value, str):
        limit = schema.get("maxLength")
        if limit is not None and len(value) > limit:
            return value[: limit - 1].rstrip() + "…"
        if not value and schema.get("minLength"):
            return "-"
    return value
