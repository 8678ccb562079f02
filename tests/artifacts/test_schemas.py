"""The artifact schemas: one per catalogue artifact type, each valid and strict."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from ideamine.catalogue import load_catalogue
from ideamine.schemas import all_schema_types, load_schema, validate_artifact

CATALOGUE_TYPES = load_catalogue().artifact_types


def test_every_catalogue_artifact_has_a_schema_and_no_schema_is_orphaned() -> None:
    assert set(all_schema_types()) == set(CATALOGUE_TYPES)
    assert len(CATALOGUE_TYPES) == 43


def _objects(node: Any, path: str = "$") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        if node.get("type") == "object" or (isinstance(node.get("type"), list) and "object" in node["type"]):
            found.append((path, node))
        for key, value in node.items():
            found.extend(_objects(value, f"{path}.{key}"))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.extend(_objects(value, f"{path}[{i}]"))
    return found


@pytest.mark.parametrize("artifact_type", CATALOGUE_TYPES)
def test_schema_is_valid_strict_and_self_contained(artifact_type: str) -> None:
    schema = load_schema(artifact_type)
    Draft202012Validator.check_schema(schema)
    assert schema["$id"].endswith(f"/{artifact_type}.json")
    assert schema["title"] and schema["description"]
    assert schema["type"] == "object"
    assert "$ref" not in str(schema), "schemas become tool input schemas: no $ref"
    for path, obj in _objects(schema):
        assert obj.get("additionalProperties") is False, f"{path} allows additional properties"
        assert set(obj["required"]) <= set(obj["properties"]), path


def test_validate_artifact_reports_json_paths() -> None:
    errors = validate_artifact(
        "user-stories",
        {
            "epics": [{"id": "EP-01", "title": "Core", "requirement_ids": []}],
            "stories": [
                {
                    "id": "ST-1",
                    "epic_id": "EP-01",
                    "title": "t",
                    "as_a": "user",
                    "i_want": "x",
                    "so_that": "y",
                    "priority": "urgent",
                    "points": 21,
                    "requirement_ids": ["FR-001"],
                    "acceptance": [],
                    "extra": True,
                }
            ],
        },
    )
    assert any(e.startswith("$.stories[0].id:") for e in errors)
    assert any(e.startswith("$.stories[0].priority:") for e in errors)
    assert any(e.startswith("$.stories[0].points:") for e in errors)
    assert any("'extra' was unexpected" in e for e in errors)
    assert errors == sorted(errors)


def test_unknown_type_raises_key_error() -> None:
    with pytest.raises(KeyError):
        load_schema("no-such-artifact")
    with pytest.raises(KeyError):
        validate_artifact("no-such-artifact", {})


def test_load_schema_returns_a_copy() -> None:
    schema = load_schema("prd")
    schema["title"] = "changed"
    assert load_schema("prd")["title"] != "changed"
