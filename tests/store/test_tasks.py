"""Contract: the task lifecycle, fencing, exactly-once commits, artifacts, the outbox."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest

from ideamine.canonical import content_hash
from ideamine.enums import TaskStatus
from ideamine.errors import Conflict, InvalidInput, NotFound, StaleAttempt
from ideamine.ids import new_id
from ideamine.store.base import RunStore
from ideamine.store.records import Event, NewArtifact, TaskRecord
from tests.store.conftest import make_run, new_task

_T = TaskStatus
SPEC = NewArtifact(type="idea_spec", content={"problem": "pets alone", "users": ["owners"]}, model="offline")


async def queued_task(store: RunStore, key: str = "intake", idem: str | None = None) -> TaskRecord:
    run = await make_run(store)
    [task] = await store.create_tasks([new_task(run.id, key, idem=idem)], events=[Event("tasks.created")])
    return task


async def running_task(store: RunStore, key: str = "intake") -> TaskRecord:
    task = await queued_task(store, key)
    return await store.start_task(task.id, attempt=1, worker="w1", lease_seconds=30)


async def test_create_start_heartbeat_commit(store: RunStore) -> None:
    task = await queued_task(store)
    assert (task.status, task.attempt, task.worker) == (_T.QUEUED, 1, None)
    assert task.input == {"story": "intake"} and task.max_deliveries == 5
    [message] = await store.fetch_outbox(topic="tasks")
    assert message.task_id == task.id and message.payload["attempt"] == 1
    started = await store.start_task(task.id, attempt=1, worker="w1", lease_seconds=30)
    assert started.status is _T.RUNNING and started.worker == "w1" and started.started_at is not None
    assert started.lease_expires_at is not None
    beat = await store.heartbeat_task(task.id, attempt=1, worker="w1", lease_seconds=300)
    assert beat.lease_expires_at is not None and beat.lease_expires_at > started.lease_expires_at
    result = await store.commit_task_result(
        task.id,
        attempt=1,
        output={"summary": "ok"},
        artifacts=[SPEC],
        events=[Event("task.succeeded", task_id=task.id)],
        notice={"task_id": task.id, "status": "SUCCEEDED"},
    )
    assert result.status is _T.SUCCEEDED and result.output == {"summary": "ok"} and result.attempt == 1
    assert await store.get_task_result(task.idempotency_key) == result
    done = await store.get_task(task.id)
    assert done.status is _T.SUCCEEDED and done.finished_at is not None
    [artifact] = await store.list_artifacts(task.run_id)
    assert result.artifact_ids == (artifact.id,)
    assert artifact.sha256 == content_hash(SPEC.content) and artifact.content == SPEC.content
    assert (artifact.version, artifact.key, artifact.task_id, artifact.phase) == (1, "", task.id, "intake")
    [notice] = await store.fetch_outbox(topic="notices")
    assert notice.payload == {"task_id": task.id, "status": "SUCCEEDED"}
    assert [e.type for e in await store.list_events(task.run_id)][-1] == "task.succeeded"


async def test_get_tasks_reads_the_existing_ones_in_the_order_asked(store: RunStore) -> None:
    a, b = await queued_task(store, "a"), await queued_task(store, "b")
    missing = new_id()
    got = await store.get_tasks([b.id, missing, a.id, b.id])
    assert [t.id for t in got] == [b.id, a.id]
    assert got[1] == await store.get_task(a.id)
    assert await store.get_tasks([]) == []


async def test_start_and_heartbeat_are_fenced(store: RunStore) -> None:
    task = await queued_task(store)
    with pytest.raises(StaleAttempt):
        await store.start_task(task.id, attempt=2, worker="w1", lease_seconds=30)
    await store.start_task(task.id, attempt=1, worker="w1", lease_seconds=30)
    with pytest.raises(Conflict):  # already RUNNING
        await store.start_task(task.id, attempt=1, worker="w2", lease_seconds=30)
    with pytest.raises(StaleAttempt):  # another worker
        await store.heartbeat_task(task.id, attempt=1, worker="w2", lease_seconds=30)
    with pytest.raises(NotFound):
        await store.get_task(new_id())


async def test_stale_attempt_after_requeue_writes_nothing(store: RunStore) -> None:
    task = await running_task(store)
    requeued = await store.requeue_task(
        task.id, attempt=1, reason="lease expired", events=[Event("task.requeued")], input_patch={"chunk": 2}
    )
    assert (requeued.status, requeued.attempt, requeued.worker) == (_T.QUEUED, 2, None)
    assert requeued.input == {"story": "intake", "chunk": 2}
    assert [m.payload["attempt"] for m in await store.fetch_outbox(topic="tasks")] == [1, 2]
    events_before = await store.list_events(task.run_id)
    for write in (
        store.commit_task_result(task.id, attempt=1, output={}, artifacts=[SPEC], events=[Event("x")]),
        store.heartbeat_task(task.id, attempt=1, worker="w1", lease_seconds=30),
        store.fail_task(task.id, attempt=1, error="boom", events=[Event("x")]),
        store.requeue_task(task.id, attempt=1, reason="again"),
    ):
        with pytest.raises(StaleAttempt):
            await write
    assert await store.get_task(task.id) == requeued
    assert await store.get_task_result(task.idempotency_key) is None
    assert await store.list_artifacts(task.run_id, latest_only=False) == []
    assert await store.list_events(task.run_id) == events_before
    assert len(await store.fetch_outbox()) == 2
    started = await store.start_task(task.id, attempt=2, worker="w2", lease_seconds=30)
    assert started.attempt == 2


async def test_concurrent_commits_with_one_key_commit_once(backend) -> None:  # type: ignore[no-untyped-def]
    store, other = backend.store, await backend.open_another()
    task = await running_task(store)
    outputs = [{"writer": i} for i in range(6)]
    results = await asyncio.gather(
        *(
            s.commit_task_result(
                task.id, attempt=1, output=o, artifacts=[SPEC], events=[Event("task.succeeded")]
            )
            for s, o in zip([store, other] * 3, outputs, strict=True)
        )
    )
    assert len({(r.output["writer"], r.artifact_ids) for r in results}) == 1
    assert len(await store.list_artifacts(task.run_id, latest_only=False)) == 1
    assert [e.type for e in await store.list_events(task.run_id)].count("task.succeeded") == 1


async def test_commit_on_a_committed_key_returns_the_first_result(store: RunStore) -> None:
    task = await running_task(store)
    first = await store.commit_task_result(task.id, attempt=1, output={"n": 1}, artifacts=[SPEC])
    again = await store.commit_task_result(task.id, attempt=1, output={"n": 2}, artifacts=[SPEC, SPEC])
    assert again == first
    assert len(await store.list_artifacts(task.run_id, latest_only=False)) == 1


async def test_create_tasks_with_a_committed_key_is_succeeded_without_outbox(store: RunStore) -> None:
    task = await running_task(store)
    await store.commit_task_result(task.id, attempt=1, output={}, artifacts=[])
    await store.mark_published([m.id for m in await store.fetch_outbox()])
    [again, fresh] = await store.create_tasks(
        [new_task(task.run_id, "intake", idem=task.idempotency_key), new_task(task.run_id, "other")]
    )
    assert again.status is _T.SUCCEEDED and fresh.status is _T.QUEUED
    assert [m.task_id for m in await store.fetch_outbox()] == [fresh.id]


async def test_artifact_versions_and_latest_only(store: RunStore) -> None:
    run = await make_run(store)
    tasks = await store.create_tasks([new_task(run.id, "plan:ST-001"), new_task(run.id, "plan:ST-002")])
    for t in tasks:
        await store.start_task(t.id, attempt=1, worker="w", lease_seconds=30)
    v1 = NewArtifact(type="story_plan", content={"v": 1}, model="offline")
    v2 = NewArtifact(type="story_plan", content={"v": 2}, model="offline", input_artifact_ids=(new_id(),))
    await store.commit_task_result(tasks[0].id, attempt=1, output={}, artifacts=[v1, v2])
    await store.commit_task_result(tasks[1].id, attempt=1, output={}, artifacts=[v1])
    every = await store.list_artifacts(run.id, latest_only=False)
    assert [(a.key, a.version) for a in every] == [("ST-001", 1), ("ST-001", 2), ("ST-002", 1)]
    latest = await store.list_artifacts(run.id, type="story_plan")
    assert [(a.key, a.version, a.content) for a in latest] == [
        ("ST-001", 2, {"v": 2}),
        ("ST-002", 1, {"v": 1}),
    ]
    assert latest[0].input_artifact_ids == v2.input_artifact_ids
    assert await store.list_artifacts(run.id, phase="prd") == []
    assert await store.get_artifact(latest[0].id) == latest[0]
    with pytest.raises(NotFound):
        await store.get_artifact(new_id())


async def test_fail_task_and_healed_retry(store: RunStore) -> None:
    task = await running_task(store)
    failed = await store.fail_task(
        task.id, attempt=1, error="schema invalid", events=[Event("task.failed")], notice={"task_id": task.id}
    )
    assert (failed.status, failed.error) == (_T.FAILED, "schema invalid") and failed.finished_at is not None
    assert [m.topic for m in await store.fetch_outbox()] == ["tasks", "notices"]
    with pytest.raises(Conflict):  # FAILED → DEAD is not in the table
        await store.fail_task(task.id, attempt=1, error="x", status=_T.DEAD)
    retried = await store.requeue_task(task.id, attempt=1, reason="heal: retry")
    assert (retried.status, retried.attempt, retried.finished_at) == (_T.QUEUED, 2, None)
    dead = await store.fail_task(task.id, attempt=2, error="deliveries exhausted", status=_T.DEAD)
    assert dead.status is _T.DEAD


async def test_commit_of_a_cancelled_task_is_refused(store: RunStore) -> None:
    task = await running_task(store)
    other = (await store.create_tasks([new_task(task.run_id, "second")]))[0]
    assert await store.cancel_tasks(task.run_id, events=[Event("tasks.cancelled")]) == 2
    assert {t.status for t in await store.list_tasks(task.run_id)} == {_T.CANCELLED}
    with pytest.raises(Conflict):
        await store.commit_task_result(task.id, attempt=1, output={}, artifacts=[SPEC])
    assert await store.get_task_result(task.idempotency_key) is None
    assert await store.cancel_tasks(other.run_id) == 0


async def test_list_tasks_filters(store: RunStore) -> None:
    run = await make_run(store)
    a, b = await store.create_tasks([new_task(run.id, "a"), new_task(run.id, "b", phase="ideation")])
    await store.start_task(b.id, attempt=1, worker="w", lease_seconds=30)
    assert [t.id for t in await store.list_tasks(run.id)] == [a.id, b.id]
    assert [t.id for t in await store.list_tasks(run.id, phase="ideation")] == [b.id]
    assert [t.id for t in await store.list_tasks(run.id, statuses=[_T.QUEUED])] == [a.id]


async def test_expired_leases_and_unfinished_tasks(store: RunStore) -> None:
    run = await make_run(store)
    short, long_, queued, done = await store.create_tasks([new_task(run.id, k) for k in "abcd"])
    await store.start_task(short.id, attempt=1, worker="w", lease_seconds=0)
    live = await store.start_task(long_.id, attempt=1, worker="w", lease_seconds=300)
    await store.start_task(done.id, attempt=1, worker="w", lease_seconds=0)
    await store.commit_task_result(done.id, attempt=1, output={}, artifacts=[])
    assert live.lease_expires_at is not None
    later = live.lease_expires_at - timedelta(seconds=1)
    assert [t.id for t in await store.expired_leases(now=later)] == [short.id]
    assert {t.id for t in await store.expired_leases(now=live.lease_expires_at + timedelta(seconds=1))} == {
        short.id,
        long_.id,
    }
    assert [t.id for t in await store.unfinished_tasks()] == [short.id, long_.id, queued.id]


async def test_outbox_fetch_and_mark_published(store: RunStore) -> None:
    run = await make_run(store)
    tasks = await store.create_tasks([new_task(run.id, k) for k in "abc"])
    rows = await store.fetch_outbox(limit=2)
    assert [r.task_id for r in rows] == [tasks[0].id, tasks[1].id]
    assert rows[0].id < rows[1].id and rows[0].topic == "tasks"
    await store.mark_published([r.id for r in rows])
    await store.mark_published([])
    assert [r.task_id for r in await store.fetch_outbox()] == [tasks[2].id]
    assert await store.fetch_outbox(topic="notices") == []


async def test_create_tasks_for_a_missing_run_writes_nothing(store: RunStore) -> None:
    run = await make_run(store)
    with pytest.raises(NotFound):
        await store.create_tasks([new_task(run.id, "a"), new_task(new_id(), "b")])
    assert await store.list_tasks(run.id) == [] and await store.fetch_outbox() == []


async def test_tasks_sharing_a_key_in_one_batch_become_one_row(store: RunStore) -> None:
    run = await make_run(store)
    first = replace(new_task(run.id, "a", idem="shared"), id=new_id())
    twin = replace(new_task(run.id, "a", idem="shared"), id=new_id())
    a, other, b = await store.create_tasks(
        [first, new_task(run.id, "b"), twin],
        events=[Event("task.queued", task_id=first.id), Event("task.queued", task_id=twin.id)],
    )
    assert a == b and a.id == first.id and other.id != a.id and a.status is _T.QUEUED
    assert {t.id for t in await store.list_tasks(run.id)} == {a.id, other.id}
    assert [m.task_id for m in await store.fetch_outbox()] == [a.id, other.id]
    queued = [e for e in await store.list_events(run.id) if e.type == "task.queued"]
    assert [e.task_id for e in queued] == [a.id, a.id]  # the merged task's event names the kept row
    await store.start_task(a.id, attempt=1, worker="w1", lease_seconds=30)
    await store.commit_task_result(a.id, attempt=1, output={}, artifacts=[])
    assert (await store.get_task(a.id)).status is _T.SUCCEEDED
    assert [t.id for t in await store.list_tasks(run.id, statuses=[_T.QUEUED])] == [other.id]
    # a later batch repeating the committed key, twice: one row, SUCCEEDED, no outbox row
    await store.mark_published([m.id for m in await store.fetch_outbox()])
    again, again_twin = await store.create_tasks([new_task(run.id, "a", idem="shared")] * 2)
    assert again == again_twin and again.id != a.id and again.status is _T.SUCCEEDED
    assert await store.fetch_outbox() == []


async def test_one_batch_may_span_runs_with_events_on_each_chain(store: RunStore) -> None:
    one, two = await make_run(store), await make_run(store, "globex")
    tasks = [replace(new_task(r.id, k), id=new_id()) for r, k in ((one, "a"), (two, "b"), (one, "c"))]
    created = await store.create_tasks(tasks, events=[Event("task.queued", task_id=t.id) for t in tasks])
    assert [(t.id, t.run_id) for t in created] == [(t.id, t.run_id) for t in tasks]
    for run, ids in ((one, [tasks[0].id, tasks[2].id]), (two, [tasks[1].id])):
        assert [e.task_id for e in await store.list_events(run.id) if e.type == "task.queued"] == ids
        assert (await store.verify_ledger(run.id)).ok
    assert len(await store.fetch_outbox()) == 3
    # an event of a multi-run batch must say whose it is; the batch then writes nothing
    with pytest.raises(InvalidInput):
        await store.create_tasks(
            [new_task(one.id, "d"), new_task(two.id, "e")], events=[Event("tasks.created")]
        )
    with pytest.raises(InvalidInput):
        await store.create_tasks([], events=[Event("tasks.created")])
    assert len(await store.list_tasks(one.id)) == 2 and len(await store.fetch_outbox()) == 3


async def test_running_tasks_of_a_worker(store: RunStore) -> None:
    mine = await running_task(store)
    other = await queued_task(store, "other")
    await store.start_task(other.id, attempt=1, worker="w2", lease_seconds=30)
    await queued_task(store, "waiting")
    assert [t.id for t in await store.running_tasks_of("w1")] == [mine.id]
    assert await store.running_tasks_of("nobody") == []
    await store.requeue_task(mine.id, attempt=1, reason="test")
    assert await store.running_tasks_of("w1") == []


async def test_a_worker_holding_its_liveness_lock_is_never_unheld(store: RunStore) -> None:
    await running_task(store)  # worker w1
    assert await store.hold_worker_liveness("w1")
    assert "w1" not in await store.unheld_workers()
    await store.release_worker_liveness("w1")
    await store.release_worker_liveness("w1")  # idempotent
