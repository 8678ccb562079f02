"""Concurrent ``read_task_inputs`` calls on PostgreSQL share one statement and equal reads one row."""

from __future__ import annotations

import asyncio

import pytest

from ideamine.errors import NotFound
from ideamine.ids import new_id
from ideamine.store.base import TaskInputs
from ideamine.store.postgres import PostgresRunStore
from ideamine.store.records import NewArtifact, NewTask
from tests.store_pg.conftest import new_runs

pytestmark = pytest.mark.postgres


async def _with_artifact(store: PostgresRunStore, run_id: str, type_: str, n: int) -> None:
    [task] = await store.create_tasks([NewTask(run_id, "intake", f"k{n}", "a", "1", f"idem-{new_id()}", {})])
    await store.start_task(task.id, attempt=1, worker="w", lease_seconds=30)
    await store.commit_task_result(
        task.id,
        attempt=1,
        output={},
        artifacts=[NewArtifact(type_, {"n": n}, model="offline")],
    )


async def test_members_wanting_the_same_inputs_share_one_read(store: PostgresRunStore) -> None:
    a, b = await new_runs(store, 2)
    await _with_artifact(store, a, "idea-spec", 1)
    await _with_artifact(store, a, "personas", 2)
    await _with_artifact(store, b, "idea-spec", 3)

    async def read(run_id: str, *types: str) -> TaskInputs | NotFound:
        try:
            return await store.read_task_inputs(run_id, types=types)
        except NotFound as exc:
            return exc

    calls = [
        read(a, "idea-spec", "personas"),
        read(a, "personas", "idea-spec"),  # the same wanted set, in another order
        read(b, "idea-spec"),
        read(a, "idea-spec"),
        read(new_id(), "idea-spec"),
        read(b, "idea-spec"),
    ]
    got = await asyncio.gather(*calls)
    alone = [await read(a, "idea-spec", "personas"), await read(b, "idea-spec"), await read(a, "idea-spec")]
    assert [got[0], got[2], got[3]] == alone
    assert isinstance(got[4], NotFound)
    assert [[x.content for x in g.artifacts] for g in alone] == [[{"n": 1}, {"n": 2}], [{"n": 3}], [{"n": 1}]]
    # equal reads in one batch are one row: the members get the very same records
    assert got[1] is got[0] and got[5] is got[2]
    assert got[3] is not got[0]
