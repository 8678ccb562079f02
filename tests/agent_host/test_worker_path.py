"""The worker's per-task path: what a task reads, leases it does not hold, leases it loses.

Real PostgreSQL (a fresh database per test) and, where leases are involved, real Redis.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any, ClassVar, cast

import pytest

from agent_host.worker import TaskWorker
from ideamine import Artifact, TaskDecl
from ideamine.agents import AgentContext, TaskInfo
from ideamine.enums import TaskStatus
from ideamine.hookspecs import hookimpl
from ideamine.ids import new_id
from ideamine.llm.offline import OfflineProvider
from ideamine.plugins import AgentRegistry, get_plugin_manager
from ideamine.queue import open_queue
from ideamine.queue.base import TaskQueue
from ideamine.queue.reconciler import Reconciler
from ideamine.store.base import RunStore, TaskInputs
from ideamine.store.factory import open_store
from ideamine.store.records import BudgetLimits, NewArtifact, NewRun, NewTask, RunRecord, TaskRecord
from tests.agent_host.support import fresh_database, redis_queue
from tests.queue.helpers import eventually

pytestmark = pytest.mark.postgres

_OBJECT: dict[str, Any] = {"type": "object"}


class ReaderAgent:
    """Records what each task could read; consumes ``wp-seed``."""

    name = "wp-reader"
    version = "1.0.0"
    phase = "critique"
    tasks: ClassVar[dict[str, TaskDecl]] = {"read": TaskDecl(produces=("wp-out",))}
    schemas: ClassVar[dict[str, Any]] = {"wp-out": _OBJECT}
    consumes = ("wp-seed",)
    seen: ClassVar[list[tuple[set[str], set[str]]]] = []
    runs: ClassVar[Counter[str]] = Counter()

    async def run(self, context: AgentContext, task: TaskInfo) -> list[Artifact]:
        type(self).seen.append((set(context.artifacts), {str(a["type"]) for a in context.artifact_index}))
        type(self).runs[task.task_id] += 1
        return [Artifact("wp-out", {"task": task.task_key}, "rules")]


class StuckAgent:
    """Never finishes on its own; records that it started and that it was cancelled."""

    name = "wp-stuck"
    version = "1.0.0"
    phase = "critique"
    tasks: ClassVar[dict[str, TaskDecl]] = {"stuck": TaskDecl(produces=("wp-stuck",))}
    schemas: ClassVar[dict[str, Any]] = {"wp-stuck": _OBJECT}
    consumes = ()
    started: ClassVar[list[int]] = []
    cancelled: ClassVar[list[int]] = []

    async def run(self, context: AgentContext, task: TaskInfo) -> list[Artifact]:
        type(self).started.append(task.attempt)
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            type(self).cancelled.append(task.attempt)
            raise
        raise AssertionError("unreachable")


class _Plugin:
    @hookimpl
    def ideamine_register_agents(self) -> list[type[Any]]:
        return [ReaderAgent, StuckAgent]


class CountingStore:
    """The real store, counting calls and the artifact rows each read returned."""

    def __init__(self, inner: RunStore) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()
        self.artifact_rows = 0
        #: ("enter" | "exit", method) in the order they happened
        self.trail: list[tuple[str, str]] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            self.trail.append(("enter", name))
            out = await attr(*args, **kwargs)
            self.trail.append(("exit", name))
            if isinstance(out, TaskInputs):
                self.artifact_rows += len(out.artifacts)
            elif name == "list_artifacts":
                self.artifact_rows += len(out)
            return out

        return call


@pytest.fixture(autouse=True)
def _reset_agents() -> None:
    ReaderAgent.seen, ReaderAgent.runs = [], Counter()
    StuckAgent.started, StuckAgent.cancelled = [], []


@pytest.fixture
async def store(pg_url: str) -> AsyncIterator[RunStore]:
    async with fresh_database(pg_url) as url:
        s = await open_store(url)
        try:
            yield s
        finally:
            await s.close()


def _worker(store: RunStore, queue: TaskQueue, consumer: str, **kw: Any) -> TaskWorker:
    registry = AgentRegistry.from_plugin_manager(
        get_plugin_manager(load_entrypoints=False, extra=[_Plugin()])
    )
    return TaskWorker(
        store=store, queue=queue, registry=registry, provider=OfflineProvider(), consumer=consumer, **kw
    )


async def _run(store: RunStore) -> RunRecord:
    return await store.create_run(
        NewRun(
            tenant="t",
            title="wp",
            idea={"text": "escrow for climbing gear"},
            phases=("critique",),
            budget=BudgetLimits(),
        )
    )


def _task(run: RunRecord, agent: type[Any], key: str, *, idem: str | None = None, **extra: Any) -> NewTask:
    task = next(iter(agent.tasks))
    return NewTask(run.id, "critique", key, agent.name, "1.0.0", idem or new_id(), {"task": task, **extra})


async def _seed(store: RunStore, run: RunRecord, phase: str, *artifacts: NewArtifact) -> list[str]:
    """Commit ``artifacts`` as the result of one task of ``phase``; their ids."""
    [t] = await store.create_tasks([NewTask(run.id, phase, f"seed-{new_id()}", "seed", "1", new_id(), {})])
    await store.start_task(t.id, attempt=1, worker="seed", lease_seconds=30)
    result = await store.commit_task_result(t.id, attempt=1, output={}, artifacts=list(artifacts))
    return list(result.artifact_ids)


async def test_a_task_reads_its_inputs_only_in_one_call_whatever_the_run_holds(store: RunStore) -> None:
    run = await _run(store)
    art = lambda t: NewArtifact(t, {"t": t}, "rules")  # noqa: E731
    await _seed(store, run, "intake", art("idea-spec"))  # upstream of critique: an input
    await _seed(store, run, "prd", art("prd"))  # downstream: not an input
    await _seed(store, run, "critique", art("wp-seed"))  # declared in consumes
    [named] = await _seed(store, run, "critique", art("wp-named"))  # named by id in one task's input
    n = 40
    created = await store.create_tasks(
        [_task(run, ReaderAgent, f"read:{i}") for i in range(n - 1)]
        + [_task(run, ReaderAgent, "read:named", input_artifact_ids=[named])]
    )
    queue = open_queue("memory://")
    await queue.ensure()
    await Reconciler(store, queue).publish_outbox()
    counting = CountingStore(store)
    worker = _worker(cast(RunStore, counting), queue, "w")
    deliveries = await queue.consume("w", count=n)
    assert len(deliveries) == n
    for d in deliveries:  # each task commits one more wp-out artifact to the same run
        await worker.handle(d)
    assert worker.completed == n
    tasks = [await store.get_task(t.id) for t in created]
    assert {t.status for t in tasks} == {TaskStatus.SUCCEEDED}
    # no task saw another task's output, the downstream prd, or anything not its input
    *plain, with_named = ReaderAgent.seen
    assert all(seen == ({"idea-spec", "wp-seed"}, {"idea-spec", "wp-seed"}) for seen in plain)
    assert with_named == ({"idea-spec", "wp-seed", "wp-named"}, {"idea-spec", "wp-seed", "wp-named"})
    # what was read does not grow with the run: 2 artifact rows a task (+1 named), never a listing
    assert counting.artifact_rows == 2 * n + 1
    assert counting.calls["list_artifacts"] == 0 and counting.calls["list_questions"] == 0
    # the whole per-task path: three store calls (start+event, inputs, commit) — a first
    # delivery of a first attempt is started without reading the task row first
    assert {k: v for k, v in counting.calls.items() if k != "list_llm_calls"} == {
        "start_task_with_events": n,
        "read_task_inputs": n,
        "commit_task_result": n,
    }
    assert len(await store.list_artifacts(run.id, type="wp-out", latest_only=False)) == n
    steps = [name for step, name in counting.trail if step == "enter" and name != "list_llm_calls"]
    assert steps == ["start_task_with_events", "read_task_inputs", "commit_task_result"] * n
    await queue.close()


async def test_a_redelivered_duplicate_of_a_committed_key_is_marked_succeeded(store: RunStore) -> None:
    run = await _run(store)
    [first] = await store.create_tasks([_task(run, ReaderAgent, "read:a", idem="same-key")])
    [twin] = await store.create_tasks([_task(run, ReaderAgent, "read:b", idem="same-key")])
    queue = open_queue("memory://")
    await queue.ensure()
    await Reconciler(store, queue).publish_outbox()
    worker = _worker(store, queue, "w")
    by_task = {d.message.task_id: d for d in await queue.consume("w", count=2)}
    await worker.handle(by_task[first.id])
    notices = len(await store.fetch_outbox(topic="notices"))
    await worker.handle(by_task[twin.id])
    assert ReaderAgent.runs == Counter({first.id: 1})  # the agent ran (and was paid for) once
    settled = await store.get_task(twin.id)
    assert settled.status is TaskStatus.SUCCEEDED and settled.finished_at is not None
    outbox = await store.fetch_outbox(topic="notices")
    assert len(outbox) == notices + 1 and outbox[-1].payload["status"] == "SUCCEEDED"
    assert outbox[-1].task_id == twin.id
    assert (await queue.stats()).pending == 0
    await queue.close()


async def test_a_reclaimed_entry_whose_lease_is_live_stays_pending_until_the_lease_ends(
    store: RunStore, redis_url: str
) -> None:
    """Host A took the task (lease 3 s) and died; B reclaims the entry after 2 s idle.

    B must not drop the entry while A's lease is live: it reclaims it again once the
    lease ran out, re-queues the task and runs attempt 2 — long before any reconciler.
    """
    run = await _run(store)
    [task] = await store.create_tasks([_task(run, ReaderAgent, "read:x")])
    async with redis_queue(redis_url) as queue:
        relay = Reconciler(store, queue)
        await relay.publish_outbox()
        [taken] = await queue.consume("host-a", count=1)
        await store.start_task(task.id, attempt=1, worker="host-a", lease_seconds=3.0)
        worker = _worker(store, queue, "host-b", lease_seconds=2.0, heartbeat_seconds=0.5)
        worker.after_commit = relay.publish_outbox
        runner = asyncio.create_task(worker.run())
        try:
            done = await eventually(
                lambda: store.get_task(task.id),
                lambda t: t.status is TaskStatus.SUCCEEDED,
                what="attempt 2 to succeed",
                within=60,
            )
        finally:
            worker.shutdown()
            await runner
        assert done.attempt == 2 and ReaderAgent.runs == Counter({task.id: 1})
        events = [e.type for e in await store.list_events(run.id) if e.task_id == task.id]
        assert events.count("task.stalled") == 1 and events.count("task.succeeded") == 1
        stats = await queue.stats()
        assert stats.pending == 0 and stats.dead_letters == 0
        assert taken.deliveries == 1


async def _stuck_worker(
    store: RunStore, queue: TaskQueue, run: RunRecord
) -> tuple[TaskRecord, TaskWorker, asyncio.Task[None]]:
    """A worker (lease 30 s, renewed every 0.1 s) running a StuckAgent task."""
    [task] = await store.create_tasks([_task(run, StuckAgent, "stuck")])
    await Reconciler(store, queue).publish_outbox()
    worker = _worker(store, queue, "host-a", lease_seconds=30.0, heartbeat_seconds=0.1)
    runner = asyncio.create_task(worker.run())
    await eventually(lambda: asyncio.sleep(0, StuckAgent.started), bool, what="the agent to start")
    return task, worker, runner


async def test_losing_the_queue_entry_stops_the_agent_and_hands_the_task_back(
    store: RunStore, redis_url: str
) -> None:
    run = await _run(store)
    async with redis_queue(redis_url) as queue:
        task, worker, runner = await _stuck_worker(store, queue, run)
        stolen = await queue.reclaim("thief", min_idle_ms=0)  # the entry is not host-a's any more
        assert [d.message.task_id for d in stolen.deliveries] == [task.id]
        try:
            await eventually(lambda: asyncio.sleep(0, StuckAgent.cancelled), bool, what="the agent stopped")
            requeued = await eventually(
                lambda: store.get_task(task.id), lambda t: t.attempt == 2, what="attempt 2"
            )
        finally:
            worker.shutdown()
            await runner
        assert requeued.status is TaskStatus.QUEUED and StuckAgent.cancelled == [1]
        assert await store.get_task_result(task.idempotency_key) is None  # nothing committed or paid
        assert worker.completed == 0 and worker.failed == 0
        retried = [e for e in await store.list_events(run.id) if e.type == "task.retried"]
        assert len(retried) == 1 and "lease lost" in retried[0].payload["reason"]


async def test_a_fenced_lease_renewal_stops_the_agent_and_leaves_the_task_alone(
    store: RunStore, redis_url: str
) -> None:
    run = await _run(store)
    async with redis_queue(redis_url) as queue:
        task, worker, runner = await _stuck_worker(store, queue, run)
        await store.requeue_task(task.id, attempt=1, reason="taken over by the engine")  # fences attempt 1
        try:
            await eventually(lambda: asyncio.sleep(0, StuckAgent.cancelled), bool, what="the agent stopped")
            await eventually(lambda: queue.stats(), lambda s: s.pending == 0, what="attempt 1 acked")
        finally:
            worker.shutdown()
            await runner
        after = await store.get_task(task.id)
        assert (after.status, after.attempt) == (TaskStatus.QUEUED, 2)  # not re-queued again, not failed
        assert worker.completed == 0 and worker.failed == 0
        assert not [e for e in await store.list_events(run.id) if e.type in ("task.failed", "task.retried")]
