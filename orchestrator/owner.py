"""Run ownership across orchestrator replicas: leases, driving, takeover.

Each replica runs one :class:`RunOwner`. Its loop, every ``lease/3`` seconds or as soon as
it is woken (a run was created or resumed here):

1. **Adopt**: ``store.runs_needing_owner()`` lists non-terminal runs whose lease is
   missing or expired; ``acquire_lease`` takes each one (fence + 1) unless another
   replica got there first. A replica never holds more than ``max_active_runs``.
2. **Renew** every held lease, in one store write (``renew_leases``) and a loop of its
   own (every ``lease/3`` seconds, never behind a slow pass). A renewal that fails —
   another replica holds the run now, or the store has been unreachable past the lease's
   expiry — means the run is *lost*: its driver task is cancelled at once, so two
   replicas never advance one run.
3. **Drive** each held run whose status is PENDING or RUNNING with a ``RunDriver`` whose
   store is a :class:`FencedStore`: every run status transition the engine makes carries
   the lease fence ``(replica, fence)``, so even a driver that has not noticed its loss
   yet cannot move the run.
   Runs that stopped (paused, awaiting input or a waiver, out of budget) stay held but
   idle until an API call moves them back to RUNNING; terminal runs are released.
4. **Fire timers** of held runs (``claim_due_timers``): an answer deadline that passed
   while the run was AWAITING_INPUT resumes it on the recorded assumptions.

Three more loops keep the engine fed: the **outbox relay and notices reader** (publish
pending outbox rows — tasks and the agent hosts' completion notices — then read notices
with this replica's consumer name and wake the waiting phase), the periodic
**reconciler** that re-publishes tasks a lost Redis forgot, and the **lost-worker
sweep** that gives the tasks of a dead agent host to others as soon as its liveness lock
is gone (:mod:`orchestrator.lost_workers`), instead of when their leases run out.

The other steps handle their runs :data:`PASS_CONCURRENCY` at a time. A replica holding
1,000 runs used to make 4,000 sequential store calls per pass, renewals included; the pass
took longer than a lease lasts, so every lease expired (bench/scale.py).

When a replica dies (kill -9), its leases simply expire; another replica's step 1 adopts
the runs and the engine resumes them from durable state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from ideamine.enums import TERMINAL_RUN_STATUSES, RunStatus
from ideamine.errors import IdeaMineError, NotFound
from ideamine.queue.base import TaskQueue
from ideamine.queue.reconciler import Reconciler
from ideamine.store.base import RunStore
from ideamine.store.records import RunRecord
from ideamine.waiting import cancel_and_wait, wait_event
from orchestrator.engine.deps import EngineDeps
from orchestrator.engine.driver import RunDriver
from orchestrator.engine.signals import Waker
from orchestrator.engine.timers import fire_due_timers
from orchestrator.lost_workers import SWEEP_SECONDS, LostWorkerSweeper

__all__ = ["RunOwner", "DepsFactory", "FencedStore"]

log = logging.getLogger(__name__)

#: builds the engine's dependencies for one drive over the given (fenced) store
DepsFactory = Callable[[RunStore], EngineDeps]

_Item = TypeVar("_Item")

_DRIVABLE = (RunStatus.PENDING, RunStatus.RUNNING)
#: longest pause before re-driving a run whose driver crashed
_MAX_RETRY_SECONDS = 30.0

#: runs an ownership step works on at once (adoptions, timers, steering): enough
#: to keep a pass well inside a lease at 1,000 runs, few enough to leave the store's
#: connection pool to the drivers
PASS_CONCURRENCY = 8


class FencedStore:
    """A store view whose run transitions require this replica's lease (``fence``).

    Everything else passes through unchanged. The engine is unaware of leases; wrapping
    its store is how a replica's drive is fenced without the engine knowing about
    replicas.
    """

    def __init__(self, store: RunStore, fence: tuple[str, int]) -> None:
        self._store = store
        self.fence = fence

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def transition_run(self, run_id: str, **kwargs: Any) -> RunRecord:
        """``RunStore.transition_run`` with the lease fence (StaleAttempt once the lease is lost)."""
        kwargs.setdefault("fence", self.fence)
        return await self._store.transition_run(run_id, **kwargs)


@dataclass
class _Held:
    """A run this replica holds the lease of."""

    fence: int
    expires_at: datetime
    driver: asyncio.Task[None] | None = None
    failures: int = 0
    retry_at: float = 0.0
    status: RunStatus = field(default=RunStatus.PENDING)


class RunOwner:
    """Adopts, renews, drives and releases runs for one replica.

    Lifecycle: ``await owner.run()`` until :meth:`shutdown`; or ``start()`` then
    ``shutdown()``. ``shutdown(release=False)`` imitates a crash (tests of takeover).
    """

    def __init__(
        self,
        *,
        store: RunStore,
        queue: TaskQueue,
        replica_id: str,
        deps_factory: DepsFactory,
        waker: Waker,
        lease_seconds: float = 15.0,
        reconcile_seconds: float = 30.0,
        outbox_poll_seconds: float = 0.1,
        max_active_runs: int = 100,
        lost_worker_seconds: float = 5.0,
        on_wake: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.queue = queue
        self.replica_id = replica_id
        self.deps_factory = deps_factory
        self.waker = waker
        self.lease_seconds = lease_seconds
        self.reconcile_seconds = reconcile_seconds
        self.outbox_poll_seconds = outbox_poll_seconds
        self.max_active_runs = max_active_runs
        self.on_wake = on_wake
        self.reconciler = Reconciler(store, queue, owner=f"orchestrator-{replica_id}")
        self.lost_workers = LostWorkerSweeper(
            store, after=lost_worker_seconds, flush_outbox=self.flush_outbox
        )
        self.held: dict[str, _Held] = {}
        self._kick = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped = False

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start the ownership, relay and reconcile loops in the background."""
        if self._tasks:
            return
        # renewals have a loop of their own because a pass can be slow: steering 1,000 runs
        # whose drivers kept the store's connections busy took 16 s (bench/scale.py), and
        # renewals queued behind it let every lease expire
        renew = _repeat(self.renew, self.lease_seconds / 3, "lease renewal")
        self._tasks = [
            asyncio.create_task(self._own_loop(), name=f"owner:{self.replica_id}"),
            asyncio.create_task(renew, name=f"renew:{self.replica_id}"),
            asyncio.create_task(self._relay_loop(), name=f"relay:{self.replica_id}"),
            asyncio.create_task(
                _repeat(self._reconcile, self.reconcile_seconds, "reconcile"),
                name=f"reconcile:{self.replica_id}",
            ),
            asyncio.create_task(
                _repeat(self.lost_workers.sweep, SWEEP_SECONDS, "lost-worker sweep"),
                name=f"lost-workers:{self.replica_id}",
            ),
        ]

    async def run(self) -> None:
        """Start and wait until shut down."""
        self.start()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def shutdown(self, *, release: bool = True) -> None:
        """Stop every loop and driver; give the leases back unless ``release`` is False.

        Idempotent. Releasing lets another replica adopt the runs at once instead of
        after the lease expires.
        """
        if self._stopped:
            return
        self._stopped = True
        await cancel_and_wait([*self._tasks, *(h.driver for h in self.held.values() if h.driver is not None)])
        if release:
            for run_id in list(self.held):
                with contextlib.suppress(IdeaMineError):
                    await self.store.release_lease(run_id, owner=self.replica_id)
        self.held.clear()

    def wake(self, run_id: str | None = None) -> None:
        """Run the ownership loop now (a run was created or resumed); wake a waiting phase."""
        self._kick.set()
        if run_id is not None:
            self.waker.notify(run_id)
            if self.on_wake is not None:
                self.on_wake(run_id)

    async def flush_outbox(self) -> object:
        """Publish the outbox rows this process wrote, now (callers share passes: ``Reconciler.relay``)."""
        return await self.reconciler.relay()

    # ------------------------------------------------------------------ ownership
    async def _own_loop(self) -> None:
        interval = self.lease_seconds / 3
        while True:
            try:
                await self.manage()
            except IdeaMineError as exc:  # the store is down: keep trying, drivers are fenced
                log.warning("ownership pass failed: %s", exc.message)
            await wait_event(self._kick, interval)
            self._kick.clear()

    async def tick(self) -> None:
        """One whole pass by hand: renew, then :meth:`manage`."""
        await self.renew()
        await self.manage()

    async def renew(self) -> None:
        """Renew every held lease in one store write; a run whose lease is gone is lost (its driver stops).

        While the store is unreachable a lease is kept until it expires; after that the
        run is lost too, as another replica may have adopted it.
        """
        held = list(self.held.items())
        if not held:
            return
        try:
            leases = await self.store.renew_leases(
                [run_id for run_id, _ in held], owner=self.replica_id, ttl_seconds=self.lease_seconds
            )
        except IdeaMineError as exc:
            now = datetime.now(UTC)
            for run_id, h in held:
                if now >= h.expires_at:
                    log.warning(
                        "run %s: lease expired while the store was unreachable (%s)", run_id, exc.message
                    )
                    self._lose(run_id, h)
            raise
        for run_id, h in held:
            lease = leases.get(run_id)
            if lease is None or lease.fence != h.fence:
                self._lose(run_id, h)
            else:
                h.expires_at = lease.expires_at

    async def manage(self) -> None:
        """Adopt runs needing an owner, fire due timers, then start or stop drivers."""
        room = self.max_active_runs - len(self.held)
        if room > 0:
            wanted = [r for r in await self.store.runs_needing_owner(limit=room) if r not in self.held]
            await _for_each(wanted, self._adopt)
        await _for_each(list(self.held.items()), self._fire_timers)
        await _for_each(list(self.held.items()), self._steer)

    async def _fire_timers(self, item: tuple[str, _Held]) -> None:
        """Fire the due durable timers of a held run through the engine's one timer path.

        The run's timers fire over its fenced store, so a replica that lost the lease
        cannot resume the run; see :func:`orchestrator.engine.timers.fire_due_timers`.
        """
        run_id, held = item
        deps = self.deps_factory(cast(RunStore, FencedStore(self.store, (self.replica_id, held.fence))))
        if await fire_due_timers(deps, owner=self.replica_id, run_ids=[run_id]):
            self.waker.notify(run_id)

    async def _adopt(self, run_id: str) -> None:
        try:
            lease = await self.store.acquire_lease(
                run_id, owner=self.replica_id, ttl_seconds=self.lease_seconds
            )
        except NotFound:
            return
        if lease is not None:
            log.info("replica %s owns run %s (fence %d)", self.replica_id, run_id, lease.fence)
            self.held[run_id] = _Held(fence=lease.fence, expires_at=lease.expires_at)

    def _lose(self, run_id: str, held: _Held) -> None:
        log.warning("replica %s lost run %s; stopping its driver", self.replica_id, run_id)
        if held.driver is not None:
            held.driver.cancel()
        if self.held.get(run_id) is held:  # not a newer hold (re-adopted while a renewal ran)
            del self.held[run_id]

    async def _steer(self, item: tuple[str, _Held]) -> None:
        run_id, held = item
        try:
            run = await self.store.get_run(run_id)
        except NotFound:
            self._lose(run_id, held)
            return
        held.status = run.status
        driving = held.driver is not None and not held.driver.done()
        if run.status in TERMINAL_RUN_STATUSES and not driving:
            await self.store.release_lease(run_id, owner=self.replica_id)
            self.held.pop(run_id, None)
            self.waker.forget(run_id)
        elif run.status in _DRIVABLE and not driving and self.held.get(run_id) is held:  # not lost meanwhile
            if asyncio.get_running_loop().time() >= held.retry_at:
                held.driver = asyncio.create_task(self._drive(run_id, held), name=f"drive:{run_id}")

    async def _drive(self, run_id: str, held: _Held) -> None:
        deps = self.deps_factory(cast(RunStore, FencedStore(self.store, (self.replica_id, held.fence))))
        try:
            final = await RunDriver(deps).drive(run_id)
            log.info("run %s is %s", run_id, final.status.value)
            if final.status is RunStatus.RUNNING:  # nothing stopped it, yet it did not end
                self._back_off(held)
            else:
                held.failures = 0
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a crashed drive is retried with capped backoff, never lost
            delay = self._back_off(held)
            level = logging.WARNING if isinstance(exc, IdeaMineError) else logging.ERROR
            log.log(level, "driving run %s failed; retrying in %.1fs", run_id, delay, exc_info=exc)
        finally:
            self._kick.set()  # re-steer at once: release a finished run, notice a stop

    @staticmethod
    def _back_off(held: _Held) -> float:
        held.failures += 1
        delay = min(_MAX_RETRY_SECONDS, 0.5 * 2.0 ** (held.failures - 1))
        held.retry_at = asyncio.get_running_loop().time() + delay
        return delay

    # --------------------------------------------------------------------- relays
    async def _relay_loop(self) -> None:
        """Sweep the outbox every ``outbox_poll_seconds``; wake runs on notices as they come.

        The sweep (``Reconciler.publish_outbox``) publishes what no commit's own flush
        sent (a crashed host's rows, a claim that expired or was given back). It runs on
        its interval, not after every batch of notices: under load notices arrive
        continuously, and a claim pass per batch was most of the outbox statements
        PostgreSQL served — nearly all of them claiming nothing.
        """
        consumer = f"orchestrator-{self.replica_id}"
        block_ms = max(int(self.outbox_poll_seconds * 1000), 1)
        reclaim_every = max(self.lease_seconds, 1.0)
        loop = asyncio.get_running_loop()
        last_reclaim = 0.0
        last_sweep = -math.inf
        while True:
            try:
                if loop.time() - last_sweep >= self.outbox_poll_seconds:
                    last_sweep = loop.time()
                    await self.reconciler.publish_outbox()
                notices = await self.queue.consume_notices(consumer, count=100, block_ms=block_ms)
                if loop.time() - last_reclaim >= reclaim_every:
                    last_reclaim = loop.time()
                    notices += await self.queue.reclaim_notices(
                        consumer, min_idle_ms=int(self.lease_seconds * 1000)
                    )
                for n in notices:
                    self.waker.notify(n.message.run_id)
                    if self.on_wake is not None:
                        self.on_wake(n.message.run_id)
                if notices:
                    await self.queue.ack_notices(notices)
            except IdeaMineError as exc:
                log.warning("outbox relay / notices: %s", exc.message)
                await asyncio.sleep(min(self.lease_seconds / 3, 1.0))

    async def _reconcile(self) -> None:
        report = await self.reconciler.reconcile()
        if report.republished:
            log.warning("reconciler re-published %d tasks", report.republished)


async def _repeat(step: Callable[[], Awaitable[object]], seconds: float, what: str) -> None:
    """Run ``step`` every ``seconds`` until cancelled; a store error is logged and retried next round."""
    while True:
        try:
            await step()
        except IdeaMineError as exc:
            log.warning("%s failed: %s", what, exc.message)
        await asyncio.sleep(seconds)


async def _for_each(items: Sequence[_Item], step: Callable[[_Item], Awaitable[None]]) -> None:
    """Run ``step`` on every item, :data:`PASS_CONCURRENCY` at a time.

    Every item gets its step even when another's fails; the first failure is raised after
    all have finished (the ownership loop logs it and tries again next pass).
    """
    gate = asyncio.Semaphore(PASS_CONCURRENCY)

    async def one(item: _Item) -> None:
        async with gate:
            await step(item)

    outcomes = await asyncio.gather(*(one(i) for i in items), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
