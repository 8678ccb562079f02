"""Contract: the agent host's per-task reads and writes (one round trip each on PostgreSQL)."""

from __future__ import annotations

import asyncio

import pytest

from ideamine.enums import QuestionStatus, TaskStatus
from ideamine.errors import Conflict, NotFound, StaleAttempt
from ideamine.ids import new_id
from ideamine.store.base import RunStore
from ideamine.store.records import Event, NewArtifact, RunRecord, TaskRecord
from tests.store.conftest import make_run, new_task

_T = TaskStatus


def _art(type_: str, n: int) -> NewArtifact:
    return NewArtifact(type=type_, content={"n": n}, model="offline")


async def _commit(store: RunStore, run: RunRecord, *artifacts: NewArtifact, key: str = "t") -> TaskRecord:
    """A task of ``run`` that ran and committed ``artifacts``."""
    [task] = await store.create_tasks([new_task(run.id, key)])
    await store.start_task(task.id, attempt=1, worker="w", lease_seconds=30)
    await store.commit_task_result(task.id, attempt=1, output={}, artifacts=list(artifacts))
    return await store.get_task(task.id)


async def test_get_task_with_result_joins_the_committed_result_of_the_key(store: RunStore) -> None:
    run = await make_run(store)
    [task] = await store.create_tasks([new_task(run.id, idem="shared-key")])
    assert await store.get_task_with_result(task.id) == (task, None)
    done = await _commit(store, run, _art("prd", 1))
    [twin] = await store.create_tasks([new_task(done.run_id)])
    got, result = await store.get_task_with_result(twin.id)
    assert got == twin and result is None
    got, result = await store.get_task_with_result(done.id)
    assert got == done and result == await store.get_task_result(done.idempotency_key)
    assert result is not None and result.task_id == done.id and len(result.artifact_ids) == 1
    with pytest.raises(NotFound):
        await store.get_task_with_result(new_id())
    with pytest.raises(NotFound):
        await store.get_task_with_result("not-an-id")


async def test_start_task_with_events_commits_both_or_neither(store: RunStore) -> None:
    run = await make_run(store)
    [task] = await store.create_tasks([new_task(run.id)])
    before = len(await store.list_events(run.id))
    started = await store.start_task_with_events(
        task.id, attempt=1, worker="w1", lease_seconds=30, events=[Event("task.started", task_id=task.id)]
    )
    assert (started.status, started.worker, started.attempt) == (_T.RUNNING, "w1", 1)
    assert started.lease_expires_at is not None and started.started_at is not None
    events = await store.list_events(run.id)
    assert [e.type for e in events[before:]] == ["task.started"] and events[-1].task_id == task.id
    with pytest.raises(Conflict):  # already RUNNING: a second start is refused, no event written
        await store.start_task_with_events(
            task.id, attempt=1, worker="w2", lease_seconds=30, events=[Event("task.started")]
        )
    [other] = await store.create_tasks([new_task(run.id)])
    with pytest.raises(StaleAttempt):
        await store.start_task_with_events(
            other.id, attempt=2, worker="w1", lease_seconds=30, events=[Event("task.started")]
        )
    assert len(await store.list_events(run.id)) == before + 1
    assert (await store.get_task(other.id)).status is _T.QUEUED
    assert (await store.verify_ledger(run.id)).ok


async def test_a_task_whose_key_has_a_committed_result_is_not_started(store: RunStore) -> None:
    """A second row of one key (a retried submission) must not run an effect that exists."""
    run = await make_run(store)
    [first] = await store.create_tasks([new_task(run.id, idem="one-key")])
    [twin] = await store.create_tasks(
        [new_task(run.id, idem="one-key")]
    )  # before the commit: a row of its own
    [fresh] = await store.create_tasks([new_task(run.id)])
    assert twin.id != first.id and twin.status is _T.QUEUED
    await store.start_task(first.id, attempt=1, worker="w", lease_seconds=30)
    await store.commit_task_result(first.id, attempt=1, output={}, artifacts=[])
    before = len(await store.list_events(run.id))
    # concurrent starts share one batch on PostgreSQL: the refused one must not take the other down
    refused, started = await asyncio.gather(
        store.start_task_with_events(
            twin.id, attempt=1, worker="w", lease_seconds=30, events=[Event("task.started")]
        ),
        store.start_task_with_events(
            fresh.id, attempt=1, worker="w", lease_seconds=30, events=[Event("task.started")]
        ),
        return_exceptions=True,
    )
    assert isinstance(refused, Conflict) and not isinstance(refused, StaleAttempt)
    assert "committed result" in refused.message
    assert isinstance(started, TaskRecord) and started.status is _T.RUNNING
    assert (await store.get_task(twin.id)).status is _T.QUEUED  # nothing written for it
    assert len(await store.list_events(run.id)) == before + 1
    assert (await store.verify_ledger(run.id)).ok


async def test_read_task_inputs_reads_only_the_wanted_types_and_named_ids(store: RunStore) -> None:
    run = await make_run(store)
    spec_v1 = await _commit(store, run, _art("idea-spec", 1), _art("noise", 0))
    await _commit(store, run, _art("idea-spec", 2), *[_art("noise", n) for n in range(1, 6)])
    await _commit(store, run, _art("personas", 1))
    other_run = await make_run(store)
    foreign = await _commit(store, other_run, _art("idea-spec", 99))
    [old_spec] = [
        a
        for a in await store.list_artifacts(run.id, latest_only=False)
        if a.type == "idea-spec" and a.task_id == spec_v1.id
    ]
    [foreign_spec] = await store.list_artifacts(other_run.id)
    assert foreign_spec.task_id == foreign.id

    inputs = await store.read_task_inputs(run.id, types=["idea-spec", "personas", "absent"])
    assert inputs.idea == run.idea
    assert [(a.type, a.content) for a in inputs.artifacts] == [
        ("idea-spec", {"n": 2}),
        ("personas", {"n": 1}),
    ]
    assert inputs.artifacts == [
        a for a in await store.list_artifacts(run.id) if a.type in ("idea-spec", "personas")
    ]

    named = await store.read_task_inputs(
        run.id, types=["personas"], artifact_ids=[old_spec.id, foreign_spec.id, "junk", new_id()]
    )
    # an older version by id; another run's artifact and malformed/unknown ids name nothing
    assert [(a.type, a.content) for a in named.artifacts] == [("idea-spec", {"n": 1}), ("personas", {"n": 1})]
    both = await store.read_task_inputs(run.id, types=["personas"], artifact_ids=[named.artifacts[1].id])
    assert [a.type for a in both.artifacts] == ["personas"]  # named and wanted: listed once
    assert (await store.read_task_inputs(run.id, types=[])).artifacts == []
    with pytest.raises(NotFound):
        await store.read_task_inputs(new_id(), types=["idea-spec"])


async def test_read_task_inputs_returns_the_answered_questions(store: RunStore) -> None:
    run = await make_run(store)
    open_q = await store.add_question(run.id, "intake", text="Who pays for escrow?", blocking=False)
    answered = await store.add_question(run.id, "intake", text="Which regions first?", blocking=False)
    await store.answer_question(
        answered.id,
        expected=[QuestionStatus.OPEN],
        status=QuestionStatus.ACCEPTED,
        answer="EU first",
        confidence=0.9,
        scores={"grounding": 0.9},
        answered_by="agent",
    )
    inputs = await store.read_task_inputs(run.id, types=[])
    assert [(q.id, q.answer, q.status) for q in inputs.questions] == [
        (answered.id, "EU first", QuestionStatus.ACCEPTED)
    ]
    assert inputs.questions[0] == await store.get_question(answered.id)
    assert open_q.id not in {q.id for q in inputs.questions}


async def test_succeed_from_result_settles_a_duplicate_of_a_committed_key(store: RunStore) -> None:
    run = await make_run(store)
    [first] = await store.create_tasks([new_task(run.id, idem="dup-key")])
    [twin] = await store.create_tasks([new_task(run.id, idem="dup-key")])
    assert twin.status is _T.QUEUED
    with pytest.raises(Conflict):  # no committed result for the key yet: refused, nothing written
        await store.succeed_from_result(twin.id, attempt=1, notice={"task_id": twin.id})
    assert (await store.get_task(twin.id)).status is _T.QUEUED
    await store.start_task(first.id, attempt=1, worker="w", lease_seconds=30)
    await store.commit_task_result(first.id, attempt=1, output={}, artifacts=[_art("prd", 1)])
    with pytest.raises(StaleAttempt):
        await store.succeed_from_result(twin.id, attempt=2)
    notices_before = len(await store.fetch_outbox(topic="notices"))
    done = await store.succeed_from_result(
        twin.id,
        attempt=1,
        events=[Event("task.succeeded", {"result_of": first.id}, task_id=twin.id)],
        notice={"task_id": twin.id, "status": "SUCCEEDED"},
    )
    assert done.status is _T.SUCCEEDED and done.finished_at is not None and done.lease_expires_at is None
    notices = await store.fetch_outbox(topic="notices")
    assert len(notices) == notices_before + 1 and notices[-1].task_id == twin.id
    assert (await store.list_events(run.id))[-1].type == "task.succeeded"
    with pytest.raises(Conflict):  # terminal now
        await store.succeed_from_result(twin.id, attempt=1)
    assert len(await store.list_artifacts(run.id)) == 1  # no second effect
