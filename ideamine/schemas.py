"""Artifact JSON Schemas: loading, listing and validation.

One JSON Schema (draft 2020-12) per artifact type lives in ``plugins/schemas/<type>.json``.
The same document is the Anthropic tool's ``input_schema`` and the contract every stored
artifact is validated against, so this module is the only reader of those files.
Validators are built once per type and cached: validation runs on every model output.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

from jsonschema import Draft202012Validator

__all__ = ["load_schema", "all_schema_types", "validate_artifact", "schema_dir"]

_SUFFIX = ".json"


def schema_dir() -> Traversable:
    """The directory holding the artifact schemas (``plugins/schemas``)."""
    return resources.files("plugins").joinpath("schemas")


@functools.cache
def all_schema_types() -> tuple[str, ...]:
    """Every artifact type that has a schema file, sorted."""
    return tuple(sorted(p.name[: -len(_SUFFIX)] for p in schema_dir().iterdir() if p.name.endswith(_SUFFIX)))


@functools.cache
def _load(artifact_type: str) -> Mapping[str, Any]:
    if artifact_type not in all_schema_types():
        raise KeyError(f"no schema for artifact type {artifact_type!r}")
    text = schema_dir().joinpath(artifact_type + _SUFFIX).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def load_schema(artifact_type: str) -> dict[str, Any]:
    """The JSON Schema of ``artifact_type`` (a fresh copy the caller may modify).

    Raises:
        KeyError: when no schema exists for the type.
    """
    copied: dict[str, Any] = json.loads(json.dumps(_load(artifact_type)))
    return copied


@functools.cache
def _validator(artifact_type: str) -> Draft202012Validator:
    return Draft202012Validator(_load(artifact_type))


def validate_artifact(artifact_type: str, content: Any) -> list[str]:
    """Validate ``content`` against its type's schema.

    Returns human-readable errors, each prefixed with the JSON path of the offending
    value (``$.stories[3].acceptance[0].id: 'AC-1' does not match ...``), sorted by path
    so repair prompts and logs are stable; an empty list means valid.

    Raises:
        KeyError: when no schema exists for the type.
    """
    errors = _validator(artifact_type).iter_errors(content)
    return sorted(f"{e.json_path}: {_shorten(e.message)}" for e in errors)


def _shorten(message: str, limit: int = 300) -> str:
    # jsonschema repeats the whole offending value in its message; keep logs and repair prompts small.
    return message if len(message) <= limit else message[: limit - 1] + "…"
