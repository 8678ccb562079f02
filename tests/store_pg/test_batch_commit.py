"""``PostgresRunStore.commit_task_results``: the batching extension keeps the single-commit rules."""

from __future__ import annotations

import asyncio

import pytest

from ideamine.enums import TaskStatus
from ideamine.errors import Conflict, StaleAttempt
from ideamine.ids import new_id
from ideamine.store.postgres import Completion, PostgresRunStore
from ideamine.store.records import Event, NewArtifact, NewTask, TaskRecord, TaskResultRecord
from tests.store_pg.conftest import new_runs

pytestmark = pytest.mark.postgres


async def _running(
    store: PostgresRunStore, n: int, *, runs: int = 2, same_key: bool = False
) -> list[TaskRecord]:
    run_ids = await new_runs(store, runs)
    key = f"idem-{new_id()}"
    new = [
        NewTask(
            run_ids[i % runs], "intake", f"plan:ST-{i}", "a", "1", key if same_key else f"idem-{new_id()}", {}
        )
        for i in range(n)
    ]
    # one batch makes tasks sharing a key one row: rows sharing a key come from separate calls
    batches = [[t] for t in new] if same_key else [new]
    tasks = [t for batch in batches for t in await store.create_tasks(batch)]
    return [await store.start_task(t.id, attempt=1, worker="w", lease_seconds=60) for t in tasks]


def _completion(t: TaskRecord, *, attempt: int = 1, events: int = 2) -> Completion:
    return Completion(
        t.id,
        attempt,
        {"task": t.id},
        [NewArtifact("story_plan", {"task": t.id}, "offline")],
        [Event(f"e{i}", {"task": t.id}, task_id=t.id) for i in range(events)],
        {"task_id": t.id},
    )


async def test_batch_commits_every_completion_in_order_with_intact_chains(store: PostgresRunStore) -> None:
    tasks = await _running(store, 6)
    results = await store.commit_task_results([_completion(t) for t in tasks])
    assert [r.task_id for r in results] == [t.id for t in tasks]
    for t, r in zip(tasks, results, strict=True):
        assert (await store.get_task(t.id)).status == TaskStatus.SUCCEEDED
        assert await store.get_task_result(t.idempotency_key) == r
        [artifact] = [a for a in await store.list_artifacts(t.run_id) if a.task_id == t.id]
        assert artifact.key == t.task_key.split(":")[1] and artifact.version == 1
    for run_id in {t.run_id for t in tasks}:
        check = await store.verify_ledger(run_id)
        assert check.ok and check.rows == 1 + 2 * 3  # run.created + 2 events x 3 tasks
    assert len(await store.fetch_outbox(topic="notices")) == 6


async def test_already_committed_completions_return_their_result_and_write_nothing(
    store: PostgresRunStore,
) -> None:
    tasks = await _running(store, 3)
    first = await store.commit_task_results([_completion(tasks[0])])
    again = await store.commit_task_results([_completion(t) for t in tasks])
    assert again[0] == first[0]
    assert len(await store.list_events(tasks[0].run_id)) == 1 + 2 * 2 + 0  # tasks[0] and tasks[2] share run 0
    assert (await store.verify_ledger(tasks[0].run_id)).ok


async def test_one_stale_completion_refuses_the_whole_batch(store: PostgresRunStore) -> None:
    tasks = await _running(store, 3)
    with pytest.raises(StaleAttempt):
        await store.commit_task_results([_completion(tasks[0]), _completion(tasks[1], attempt=7)])
    for t in tasks:
        assert (await store.get_task(t.id)).status == TaskStatus.RUNNING
        assert await store.get_task_result(t.idempotency_key) is None
    assert await store.fetch_outbox(topic="notices") == []


async def test_a_shared_idempotency_key_within_one_batch_is_a_conflict(store: PostgresRunStore) -> None:
    tasks = await _running(store, 2, runs=1, same_key=True)
    with pytest.raises(Conflict, match="share an idempotency key"):
        await store.commit_task_results([_completion(t) for t in tasks])
    assert await store.get_task_result(tasks[0].idempotency_key) is None


async def _commit_one(store: PostgresRunStore, c: Completion) -> TaskResultRecord | BaseException:
    try:
        return await store.commit_task_result(
            c.task_id,
            attempt=c.attempt,
            output=c.output,
            artifacts=c.artifacts,
            events=c.events,
            notice=c.notice,
        )
    except Exception as exc:
        return exc


async def test_concurrent_single_commits_share_a_transaction(store: PostgresRunStore) -> None:
    tasks = await _running(store, 20, runs=3)
    results = await asyncio.gather(*(_commit_one(store, _completion(t)) for t in tasks))
    assert all(isinstance(r, TaskResultRecord) for r in results), results
    # one batch = one transaction = one commit time for all its results
    assert len({r.committed_at for r in results if isinstance(r, TaskResultRecord)}) <= 2
    for run_id in {t.run_id for t in tasks}:
        assert (await store.verify_ledger(run_id)).ok
    assert len(await store.fetch_outbox(topic="notices")) == 20


async def test_a_refused_member_gets_its_own_error_and_the_others_commit(store: PostgresRunStore) -> None:
    tasks = await _running(store, 6, runs=2)
    *good, stale = tasks
    shared = await _running(store, 2, runs=1, same_key=True)
    results = await asyncio.gather(
        *(_commit_one(store, _completion(t)) for t in good),
        _commit_one(store, _completion(stale, attempt=7)),
        *(_commit_one(store, _completion(t)) for t in shared),
    )
    assert all(isinstance(r, TaskResultRecord) for r in results[:5]), results
    assert isinstance(results[5], StaleAttempt)
    # two rows of one key: the first commits its effect, the second gets that same result back
    first, second = results[6:]
    assert isinstance(first, TaskResultRecord) and second == first
    assert (await store.get_task(stale.id)).status == TaskStatus.RUNNING
    for run_id in {t.run_id for t in [*tasks, *shared]}:
        assert (await store.verify_ledger(run_id)).ok
    assert len(await store.fetch_outbox(topic="notices")) == 6
