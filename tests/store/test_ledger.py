"""Contract: the append-only, hash-chained ledger and phase checkpoints."""

from __future__ import annotations

import asyncio

import pytest

from ideamine.errors import NotFound
from ideamine.ids import new_id
from ideamine.store.base import RunStore
from ideamine.store.ledger import GENESIS_HASH, record_hash
from ideamine.store.records import Event
from tests.store.conftest import Backend, make_run


async def test_append_list_and_verify(store: RunStore) -> None:
    run = await make_run(store)
    task_id = new_id()
    appended = await store.append_events(
        run.id,
        [Event("phase.started", {"n": 1}, phase="intake"), Event("task.created", {"n": 2}, task_id=task_id)],
    )
    assert [r.seq for r in appended] == [2, 3]
    rows = await store.list_events(run.id)
    assert rows[1:] == appended
    assert rows[0].prev_hash == GENESIS_HASH
    assert all(r.prev_hash == p.hash for p, r in zip(rows, rows[1:], strict=False))
    assert all(record_hash(r) == r.hash for r in rows)
    assert (rows[1].phase, rows[2].task_id, rows[2].payload) == ("intake", task_id, {"n": 2})
    assert [r.seq for r in await store.list_events(run.id, after_seq=1, limit=1)] == [2]
    verdict = await store.verify_ledger(run.id)
    assert verdict.ok and verdict.rows == 3 and verdict.first_bad_seq is None
    assert await store.append_events(run.id, []) == []


async def test_chains_are_per_run(store: RunStore) -> None:
    a, b = await make_run(store), await make_run(store)
    await store.append_events(a.id, [Event("x")])
    [first_b] = await store.append_events(b.id, [Event("y")])
    assert first_b.seq == 2 and first_b.run_id == b.id
    assert (await store.verify_ledger(a.id)).ok and (await store.verify_ledger(b.id)).ok


async def test_concurrent_appends_keep_one_unbroken_chain(backend: Backend) -> None:
    store, other = backend.store, await backend.open_another()
    run = await make_run(store)
    await asyncio.gather(
        *(
            s.append_events(run.id, [Event(f"e{i}"), Event(f"f{i}")])
            for i, s in enumerate([store, other] * 10)
        )
    )
    rows = await store.list_events(run.id)
    assert [r.seq for r in rows] == list(range(1, 42))
    assert (await store.verify_ledger(run.id)).ok


async def test_append_to_missing_run_is_not_found(store: RunStore) -> None:
    with pytest.raises(NotFound):
        await store.append_events(new_id(), [Event("x")])


async def test_database_rejects_ledger_update_and_delete(backend: Backend) -> None:
    run = await make_run(backend.store)
    for sql in (
        f"UPDATE ledger SET type = 'forged' WHERE run_id = '{run.id}'",
        f"DELETE FROM ledger WHERE run_id = '{run.id}'",
    ):
        with pytest.raises(backend.db_error):
            await backend.execute(sql)
    [row] = await backend.store.list_events(run.id)
    assert row.type == "run.created"
    assert (await backend.store.verify_ledger(run.id)).ok


async def test_verify_reports_the_first_tampered_row(backend: Backend) -> None:
    store = backend.store
    run = await make_run(store)
    await store.append_events(run.id, [Event("gate.passed", {"score": 71}), Event("phase.completed")])
    await backend.disable_ledger_triggers()
    await backend.execute(
        f"UPDATE ledger SET payload = '{{\"score\": 99}}' WHERE run_id = '{run.id}' AND seq = 2"
    )
    assert (await store.list_events(run.id))[1].payload == {"score": 99}
    verdict = await store.verify_ledger(run.id)
    assert not verdict.ok and verdict.first_bad_seq == 2 and verdict.rows == 3 and verdict.reason


async def test_verify_reports_a_deleted_row(backend: Backend) -> None:
    store = backend.store
    run = await make_run(store)
    await store.append_events(run.id, [Event("a"), Event("b")])
    await backend.disable_ledger_triggers()
    await backend.execute(f"DELETE FROM ledger WHERE run_id = '{run.id}' AND seq = 2")
    verdict = await store.verify_ledger(run.id)
    assert not verdict.ok and verdict.first_bad_seq == 2


# ------------------------------------------------------------- checkpoints
async def test_checkpoints_save_list_latest(store: RunStore) -> None:
    run = await make_run(store)
    assert await store.latest_checkpoint(run.id, "intake") is None
    first = await store.save_checkpoint(
        run.id,
        "intake",
        attempt=1,
        state={"plan": ["a"], "artifacts": []},
        events=[Event("checkpoint.saved")],
    )
    second = await store.save_checkpoint(
        run.id, "intake", attempt=2, state={"plan": ["a"], "artifacts": ["x"]}
    )
    other = await store.save_checkpoint(run.id, "ideation", attempt=1, state={})
    assert await store.list_checkpoints(run.id) == [first, second, other]
    assert await store.latest_checkpoint(run.id, "intake") == second
    assert second.state == {"plan": ["a"], "artifacts": ["x"]} and second.attempt == 2
    assert (await store.list_events(run.id))[-1].type == "checkpoint.saved"
    with pytest.raises(NotFound):
        await store.save_checkpoint(new_id(), "intake", attempt=1, state={})
