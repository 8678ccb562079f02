"""RunOwner passes, driven by hand over real PostgreSQL and Redis: timers and lost leases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from ideamine.catalogue import load_catalogue
from ideamine.enums import RunStatus
from ideamine.plugins import AgentRegistry, get_plugin_manager
from ideamine.queue import open_queue
from ideamine.queue.base import TaskQueue
from ideamine.store.base import RunStore
from ideamine.store.factory import open_store
from ideamine.store.records import BudgetLimits, Event, NewRun
from orchestrator.engine.deps import EngineDeps
from orchestrator.engine.signals import Waker
from orchestrator.owner import PASS_CONCURRENCY, RunOwner
from tests.orchestrator.conftest import drop_queue
from tests.orchestrator.support import create_database, drop_database, unique_prefix
from tests.polling import eventually

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@dataclass
class Rig:
    store: RunStore
    queue: TaskQueue

    def owner(self, name: str, *, lease: float = 0.5) -> RunOwner:
        pm = get_plugin_manager()
        registry = AgentRegistry.from_plugin_manager(pm)
        guards = [g for gs in pm.hook.ideamine_register_guards() for g in gs]
        waker = Waker()

        def deps(store: RunStore) -> EngineDeps:
            return EngineDeps(
                store=store, registry=registry, catalogue=load_catalogue(), guards=guards, waker=waker
            )

        return RunOwner(
            store=self.store,
            queue=self.queue,
            replica_id=name,
            deps_factory=deps,
            waker=waker,
            lease_seconds=lease,
        )

    async def run(self, status: RunStatus) -> str:
        run = await self.store.create_run(
            NewRun(
                tenant="t",
                title="Owner test",
                idea={"text": "A shared calendar for allotment gardeners", "constraints": {}},
                phases=("intake",),
                budget=BudgetLimits(),
            ),
            events=[Event("run.created")],
        )
        if status is not RunStatus.PENDING:
            await self.store.transition_run(run.id, expected=[RunStatus.PENDING], new=RunStatus.RUNNING)
        if status not in (RunStatus.PENDING, RunStatus.RUNNING):
            await self.store.transition_run(run.id, expected=[RunStatus.RUNNING], new=status)
        return run.id


@pytest.fixture
async def rig(pg_url: str, redis_url: str) -> AsyncIterator[Rig]:
    db = await create_database(pg_url)
    prefix = unique_prefix()
    store = await open_store(db)
    queue = open_queue(redis_url, prefix=prefix)
    await queue.ensure()
    try:
        yield Rig(store, queue)
    finally:
        await queue.close()
        await store.close()
        await drop_database(pg_url, db)
        await drop_queue(redis_url, prefix)


async def test_a_due_answer_deadline_resumes_a_waiting_run(rig: Rig) -> None:
    run_id = await rig.run(RunStatus.AWAITING_INPUT)
    owner = rig.owner("replica-t")
    try:
        await owner.tick()  # adopt (the run is idle: nothing to fire yet)
        assert run_id in owner.held and (await rig.store.get_run(run_id)).status is RunStatus.AWAITING_INPUT
        past = datetime.now(UTC) - timedelta(seconds=1)
        await rig.store.arm_timer(run_id, kind="answer-deadline", key="q-1", fire_at=past, payload={})
        await owner.tick()
        assert (await rig.store.get_run(run_id)).status is RunStatus.RUNNING
        resumed = [e for e in await rig.store.list_events(run_id) if e.type == "run.resumed"]
        assert [e.payload["timer"] for e in resumed] == ["answer-deadline"]
        assert owner.held[run_id].driver is not None  # and it drives the run again
        assert not await rig.store.claim_due_timers(owner="anyone", run_ids=[run_id])  # fired once
    finally:
        await owner.shutdown()


async def test_a_replica_that_lost_the_lease_stops_driving(rig: Rig) -> None:
    run_id = await rig.run(RunStatus.PENDING)
    first, second = rig.owner("replica-1"), rig.owner("replica-2")
    try:
        await first.tick()
        driver = first.held[run_id].driver
        assert driver is not None
        await eventually(
            lambda: _status_is(rig, run_id, RunStatus.RUNNING), what="the driver to start the run"
        )
        # replica-1 stalls (no renewals); once its lease expires replica-2 adopts the run
        await eventually(lambda: _adopts(second, run_id), what="replica-2 to adopt the run")
        await first.tick()  # the renewal finds another owner: the run is lost, its driver stops
        assert run_id not in first.held
        await eventually(lambda: _done(driver), what="the lost driver to stop")
        assert driver.cancelled()
    finally:
        await first.shutdown()
        await second.shutdown()


async def _adopts(owner: RunOwner, run_id: str) -> bool:
    await owner.tick()
    return run_id in owner.held


async def _done(task: object) -> bool:
    return bool(task.done())  # type: ignore[attr-defined]


async def _status_is(rig: Rig, run_id: str, status: RunStatus) -> bool:
    return (await rig.store.get_run(run_id)).status is status


class _CountingLeases:
    """The store, counting how many ``acquire_lease`` calls are in flight at once, and renewals."""

    def __init__(self, store: RunStore) -> None:
        self._store = store
        self.in_flight = self.most = self.calls = 0
        self.renewals: list[int] = []

    async def renew_leases(self, run_ids: Any, **kw: Any) -> Any:
        self.renewals.append(len(run_ids))
        return await self._store.renew_leases(run_ids, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def acquire_lease(self, run_id: str, **kw: Any) -> Any:
        self.in_flight += 1
        self.calls += 1
        self.most = max(self.most, self.in_flight)
        try:
            await asyncio.sleep(0.01)  # a store call that takes a while, as under load
            return await self._store.acquire_lease(run_id, **kw)
        finally:
            self.in_flight -= 1


async def test_an_ownership_pass_adopts_several_runs_at_once_and_renews_all_in_one_write(rig: Rig) -> None:
    runs = [await rig.run(RunStatus.PAUSED) for _ in range(2 * PASS_CONCURRENCY)]  # held, never driven
    counting = _CountingLeases(rig.store)
    owner = rig.owner("replica-c", lease=5)
    owner.store = cast(RunStore, counting)
    try:
        await owner.tick()  # adopts every run
        assert set(owner.held) == set(runs)
        assert counting.most == PASS_CONCURRENCY  # not one after another, and never more
        before = {r: h.expires_at for r, h in owner.held.items()}
        await owner.tick()  # renews every lease
        assert counting.renewals == [len(runs)]
        assert all(owner.held[r].expires_at > before[r] for r in runs)
    finally:
        await owner.shutdown()


class _SlowRunReads:
    """The store, with every ``get_run`` taking ``delay`` seconds (a busy store)."""

    def __init__(self, store: RunStore, delay: float) -> None:
        self._store, self.delay = store, delay

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def get_run(self, run_id: str) -> Any:
        await asyncio.sleep(self.delay)
        return await self._store.get_run(run_id)


async def test_leases_are_renewed_while_a_slow_pass_steers(rig: Rig) -> None:
    run_id = await rig.run(RunStatus.PAUSED)
    owner = rig.owner("replica-s", lease=0.6)
    owner.store = cast(RunStore, _SlowRunReads(rig.store, delay=3.0))  # steering outlasts the lease 5 times
    owner.start()
    try:
        await eventually(lambda: _holds(owner, run_id), what="the run to be adopted")
        first = owner.held[run_id].expires_at
        await asyncio.sleep(1.5)  # the pass is still in its 3 s read; the lease was 0.6 s
        assert run_id in owner.held and owner.held[run_id].expires_at > first
        assert await rig.store.runs_needing_owner() == []  # still held, as the store sees it
    finally:
        await owner.shutdown()


async def _holds(owner: RunOwner, run_id: str) -> bool:
    return run_id in owner.held
