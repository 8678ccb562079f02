"""Ids: time-ordered UUIDv7 strings, and the canonical-form check every store call makes."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from ideamine.ids import is_id, new_id


def test_new_ids_are_canonical_version_7_and_strictly_ordered() -> None:
    ids = [new_id() for _ in range(2000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 7 and str(uuid.UUID(i)) == i for i in ids)


@pytest.mark.parametrize(
    "text",
    [new_id(), str(uuid.uuid4()), "00000000-0000-0000-0000-000000000000"],
)
def test_canonical_uuid_text_is_an_id(text: str) -> None:
    assert is_id(text)


@pytest.mark.parametrize(
    "value",
    [
        new_id().upper(),  # parses as a UUID, but is not the canonical text
        "{" + new_id() + "}",
        new_id().replace("-", ""),
        new_id() + "\n",
        " " + new_id(),
        new_id()[:-1],
        new_id()[:-1] + "g",
        "urn:uuid:" + new_id(),
        "",
        None,
        42,
        uuid.uuid4(),
    ],
)
def test_anything_else_is_not_an_id(value: Any) -> None:
    assert not is_id(value)
