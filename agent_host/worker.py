"""The task worker: consume → fence → run the agent (heartbeating) → commit → ack.

One worker per agent host process (or one in the embedded process). The first delivery
of a first attempt is started straight away (step 4), fenced so that it starts exactly
when steps 1–3 would have let it; a start refused, and every other delivery, take
steps 1–3 first:

1. Load the task row joined to its idempotency key's result (one read). A terminal
   task, or a message for an older attempt, is acked and dropped (a redelivery or a
   stale duplicate).
2. If the key already has a committed result, the agent is not run — the effect exists
   and its model calls were paid once; a row still QUEUED/RUNNING is marked SUCCEEDED
   (with its notice) so it is not left stuck, then the entry is acked.
3. A RUNNING task whose lease expired (its worker died) is re-queued with attempt + 1.
   One whose lease is still live is *left pending*, not acked: its holder may be dead
   with time left on its lease, and acking would strand the task until the reconciler.
   The entry is reclaimed again after the lease (no busy loop) and re-checked.
4. ``start_task_with_events`` (QUEUED → RUNNING fenced by attempt and by no committed
   result for the key, plus ``task.started``) in one transaction; the context is read
   in one call with only the task's inputs.
5. Run the agent with its deadline while a heartbeat loop renews the store lease and the
   queue entry (:mod:`agent_host.lease`). When a renewal reports the lease lost, the
   agent is cancelled: nothing is committed or failed; if only the queue entry went,
   the task is re-queued at once as a new attempt.
6. Validate every artifact against the agent's schema, then commit result + artifacts +
   ledger events + completion notice in one transaction; only then ack.
7. Failures are recorded with their reason and retryable flag (the engine heals).

How the agent runs is pluggable (:data:`AgentRunner`): in this process by default, or in
a resource-limited child process (``agent_host.isolation.ProcessRunner``). Either way the
worker keeps the lease, the metered model client and the commit in this process.

Draining (``drain(grace)``) stops taking work and lets in-flight tasks finish; tasks still
running when the grace runs out are cancelled and re-queued as a new attempt at once,
instead of waiting for their lease to expire on another host.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from agent_host.context import build_context, input_types, read_inputs, task_info
from agent_host.lease import Lease, LeaseLost
from ideamine import metrics, tracing
from ideamine.agents import AgentContext, Artifact, TaskInfo
from ideamine.batching import Grouped
from ideamine.enums import TERMINAL_TASK_STATUSES, TaskStatus
from ideamine.errors import AgentError, Conflict, IdeaMineError, NotFound, StaleAttempt, encode_task_error
from ideamine.handback import bury, hand_back_lost, requeue, task_notice
from ideamine.llm.base import LLMProvider
from ideamine.llm.breaker import BreakerRegistry
from ideamine.llm.client import MeteredLLM
from ideamine.plugins import AgentEntry, AgentRegistry
from ideamine.queue.base import TaskQueue
from ideamine.queue.message import Delivery, TaskMessage
from ideamine.store.base import RunStore, TaskInputs
from ideamine.store.records import Event, NewArtifact, TaskRecord, TaskResultRecord
from ideamine.waiting import cancel_and_wait

__all__ = ["AgentRunner", "TaskWorker"]

log = logging.getLogger(__name__)

#: runs one agent task and returns what the agent produced (validated by the worker after)
AgentRunner = Callable[[AgentEntry, AgentContext, TaskInfo], Awaitable[Sequence[Artifact]]]


class TaskWorker:
    """Runs agent tasks from a queue until shut down.

    Lifecycle: ``await worker.run()`` until ``shutdown()``; ``drain()`` stops taking new
    work and waits for in-flight tasks.

    Args:
        runner: how an agent runs (default: awaited in this process).
        after_commit: awaited after each commit of a result or failure, e.g. to relay the
            completion notice at once; its errors are logged, never fail the task.
    """

    def __init__(
        self,
        *,
        store: RunStore,
        queue: TaskQueue,
        registry: AgentRegistry,
        provider: LLMProvider,
        consumer: str,
        concurrency: int = 4,
        lease_seconds: float = 15.0,
        heartbeat_seconds: float = 5.0,
        max_repairs: int = 2,
        breakers: BreakerRegistry | None = None,
        runner: AgentRunner | None = None,
        after_commit: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        self.store = store
        self.queue = queue
        self.registry = registry
        self.provider = provider
        self.consumer = consumer
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.max_repairs = max_repairs
        #: one circuit per provider/model for every task this worker runs
        self.breakers = breakers or BreakerRegistry()
        #: called after each commit (e.g. to relay the completion notice at once instead of on the next poll)
        self.after_commit = after_commit
        self._inflight: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._agents: dict[str, Any] = {}
        self._runner: AgentRunner = runner or self._run_in_process
        #: acknowledgements of deliveries settled together go out in one queue call
        self._acks: Grouped[Delivery[TaskMessage], None] = Grouped(self._ack_batch)
        #: tasks this worker committed as SUCCEEDED / recorded as FAILED
        self.completed = 0
        self.failed = 0

    @property
    def busy(self) -> int:
        """Deliveries being handled right now."""
        return len(self._inflight)

    @property
    def running_task_ids(self) -> list[str]:
        """Ids of the tasks being handled right now (sorted)."""
        return sorted({t.get_name().removeprefix("task:") for t in self._inflight})

    @property
    def draining(self) -> bool:
        """True once :meth:`drain` or :meth:`shutdown` was called."""
        return self._stopping.is_set()

    def _agent(self, name: str) -> Any:
        if name not in self._agents:
            self._agents[name] = self.registry.get(name).cls()
        return self._agents[name]

    async def _run_in_process(
        self, entry: AgentEntry, context: AgentContext, info: TaskInfo
    ) -> Sequence[Artifact]:
        result: Sequence[Artifact] = await self._agent(entry.name).run(context, info)
        return result

    def _spawn(self, delivery: Delivery[TaskMessage]) -> None:
        if self._stopping.is_set():
            # taken while a drain began (a blocking read was in flight): left pending,
            # it is reclaimed after the lease like a crashed host's entry
            return
        t = asyncio.create_task(self.handle(delivery), name=f"task:{delivery.message.task_id}")
        self._inflight.add(t)
        t.add_done_callback(self._inflight.discard)

    async def run(self) -> None:
        """Consume and run tasks until :meth:`shutdown` or :meth:`drain`."""
        with metrics.worker_slots(self.concurrency):
            await self._consume()

    async def _consume(self) -> None:
        reclaim_every = max(self.lease_seconds / 3, 0.05)
        last_reclaim = 0.0
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            free = self.concurrency - len(self._inflight)
            if free <= 0:
                await asyncio.wait(self._inflight, return_when=asyncio.FIRST_COMPLETED)
                continue
            if loop.time() - last_reclaim >= reclaim_every:
                last_reclaim = loop.time()
                await self._reclaim()
            deliveries = await self.queue.consume(self.consumer, count=free, block_ms=200)
            for d in deliveries:
                self._spawn(d)
        await self._wait_inflight()

    async def _reclaim(self) -> None:
        """Take over entries of dead consumers; mark dead-lettered tasks DEAD."""
        result = await self.queue.reclaim(self.consumer, min_idle_ms=int(self.lease_seconds * 1000))
        for dead in result.dead:
            metrics.DEAD_LETTERS.inc()
            task_id = getattr(dead, "task_id", None) or getattr(
                getattr(dead, "message", None), "task_id", None
            )
            if task_id:
                await self._mark_dead(str(task_id), getattr(dead, "reason", "deliveries exhausted"))
        for d in result.deliveries:
            self._spawn(d)

    async def _mark_dead(self, task_id: str, reason: str) -> None:
        with contextlib.suppress(NotFound, Conflict):
            await bury(self.store, await self.store.get_task(task_id), reason=reason)

    async def _wait_inflight(self) -> None:
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)

    async def drain(self, grace: float | None = None) -> None:
        """Stop taking work and wait for in-flight tasks to finish.

        Args:
            grace: seconds in-flight tasks may still take (None: as long as they need).
                Tasks still running afterwards are cancelled and re-queued as a new
                attempt, so another host picks them up without waiting for the lease.
        """
        self._stopping.set()
        if not self._inflight:
            return
        _, pending = await asyncio.wait(set(self._inflight), timeout=grace)
        await cancel_and_wait(pending)
        await self._wait_inflight()

    def shutdown(self) -> None:
        """Ask :meth:`run` to return after in-flight tasks (idempotent)."""
        self._stopping.set()

    async def handle(self, delivery: Delivery[TaskMessage]) -> None:
        """Process one delivery end to end; never raises (failures are recorded)."""
        msg = delivery.message
        if delivery.deliveries > 1:
            metrics.TASK_REDELIVERIES.labels(agent=msg.agent).inc()
        settled = True
        try:
            with tracing.task_span(msg), metrics.HOST_BUSY.track_inprogress():
                settled = await self._handle(delivery)
        except IdeaMineError as exc:
            log.warning("task %s attempt %s: %s", msg.task_id, msg.attempt, exc.message)
        except asyncio.CancelledError:
            if self._stopping.is_set():
                await self._release(delivery)
            raise
        except Exception:  # a bug must not kill the consumer loop; the lease heals the task
            log.exception("task %s attempt %s crashed the worker path", msg.task_id, msg.attempt)
            return
        if settled:
            await self._acks(delivery)

    async def _ack_batch(self, deliveries: Sequence[Delivery[TaskMessage]]) -> list[None]:
        await self.queue.ack(deliveries)
        return [None] * len(deliveries)

    async def _release(self, delivery: Delivery[TaskMessage]) -> None:
        """Hand a task cut short by a drain back to the queue as a new attempt.

        Only a task this worker started is re-queued (fenced by attempt and worker); the
        entry is acked once the new attempt's outbox row exists. Anything else stays
        pending and is reclaimed after the lease, as after a crash.
        """
        msg = delivery.message
        try:
            task = await self.store.get_task(msg.task_id)
            if task.status is not TaskStatus.RUNNING or task.attempt != msg.attempt:
                return
            if task.worker != self.consumer:
                return
            await requeue(
                self.store, task, reason="agent host draining", event="task.retried", label="draining"
            )
            await self.queue.ack([delivery])
        except IdeaMineError as exc:
            log.warning("could not release task %s on drain: %s", msg.task_id, exc.message)

    async def _handle(self, delivery: Delivery[TaskMessage]) -> bool:
        """Run one delivery; returns whether its entry is settled (ack) or must stay pending.

        A first delivery of a first attempt — nearly every delivery — is started at once:
        the start is fenced on QUEUED, the attempt and no committed result for the key,
        so it succeeds exactly when reading the task first would have led to starting
        it. Anything else, or a start refused, goes the careful way (:meth:`_read_first`).
        """
        msg = delivery.message
        if msg.attempt == 1 and delivery.deliveries == 1:
            try:
                task = await self._start(msg.task_id, msg.phase, attempt=1)
            except (Conflict, NotFound):
                pass  # ended, re-queued, started elsewhere, gone or already committed: look first
            else:
                # attempt 1 was queued when it was created; the inputs are read after the start
                await self._run_started(
                    task, delivery, self._prefetch_inputs(task), queued_at=task.created_at
                )
                return True
        return await self._read_first(delivery)

    async def _read_first(self, delivery: Delivery[TaskMessage]) -> bool:
        """Load the task with its key's result, then ack, settle, heal, leave pending or start it."""
        msg = delivery.message
        try:
            task, result = await self.store.get_task_with_result(msg.task_id)
        except NotFound:
            return True
        if task.status in TERMINAL_TASK_STATUSES or task.attempt != msg.attempt:
            return True
        if result is not None:
            await self._settle_done(task, result)
            metrics.IDEMPOTENT_HITS.labels(agent=task.agent).inc()
            return True
        if task.status is TaskStatus.RUNNING:
            return await self._running_elsewhere(task)
        queued_at = task.updated_at
        # read the inputs while the start commits: two round trips in parallel instead of in a row
        inputs = self._prefetch_inputs(task)
        try:
            task = await self._start(task.id, task.phase, attempt=task.attempt)
        except StaleAttempt:
            return True  # a newer attempt exists: this message is history
        except Conflict:
            return False  # another delivery of this entry started it a moment ago: it holds the lease
        await self._run_started(task, delivery, inputs, queued_at=queued_at)
        return True

    async def _start(self, task_id: str, phase: str, *, attempt: int) -> TaskRecord:
        """QUEUED → RUNNING with its ``task.started`` event (refused: Conflict, NotFound)."""
        return await self.store.start_task_with_events(
            task_id,
            attempt=attempt,
            worker=self.consumer,
            lease_seconds=self.lease_seconds,
            events=[
                Event(
                    "task.started",
                    {"attempt": attempt, "worker": self.consumer},
                    phase=phase,
                    task_id=task_id,
                )
            ],
        )

    def _prefetch_inputs(self, task: TaskRecord) -> asyncio.Future[TaskInputs]:
        inputs = asyncio.ensure_future(self._read_inputs(task))
        inputs.add_done_callback(_retrieved)
        return inputs

    async def _run_started(
        self,
        task: TaskRecord,
        delivery: Delivery[TaskMessage],
        inputs: Awaitable[TaskInputs],
        *,
        queued_at: datetime,
    ) -> None:
        with metrics.task_running(task.agent, queued_at):
            await self._execute(task, delivery, inputs)

    async def _read_inputs(self, task: TaskRecord) -> TaskInputs:
        return await read_inputs(self.store, task, input_types(self.registry.get(task.agent).cls, task))

    async def _running_elsewhere(self, task: TaskRecord) -> bool:
        """A delivery of a task some worker started: heal a lost worker, else leave it pending.

        While the lease is live its holder may be alive (slow, or this very host) or may
        have just died: acking would drop the only entry and, should the holder be dead,
        strand the task until the reconciler. Left pending, the entry is reclaimed again
        after ``lease_seconds`` of idleness (no busy loop) and this check runs again —
        by then a dead holder's lease has run out. A live holder keeps the task: its
        next lease renewal finds the entry taken and it hands the task back at once.
        """
        if task.lease_expires_at is None or task.lease_expires_at >= datetime.now(UTC):
            log.info(
                "task %s attempt %s is held by %s; entry left pending", task.id, task.attempt, task.worker
            )
            return False
        await hand_back_lost(self.store, task, reason="worker lost", label="worker_lost")
        await self._after_commit()  # publish the new attempt now, not on the next relay poll
        return True

    async def _settle_done(self, task: TaskRecord, result: TaskResultRecord) -> None:
        """Mark SUCCEEDED a task whose idempotency key's effect is already committed.

        Its effect exists (committed by an earlier attempt or by another task of the same
        key) and its model calls were paid once; the row must not stay QUEUED/RUNNING.
        """
        try:
            await self.store.succeed_from_result(
                task.id,
                attempt=task.attempt,
                events=[
                    Event(
                        "task.succeeded",
                        {
                            "artifacts": list(result.output.get("artifact_types", [])),
                            "result_of": result.task_id,
                        },
                        phase=task.phase,
                        task_id=task.id,
                    )
                ],
                notice=task_notice(task, TaskStatus.SUCCEEDED),
            )
        except Conflict as exc:  # StaleAttempt too: the row moved on (another attempt, or it ended)
            log.info("task %s: already-committed key not settled here: %s", task.id, exc.message)
            return
        await self._after_commit()

    async def _execute(
        self, task: TaskRecord, delivery: Delivery[TaskMessage], inputs: Awaitable[TaskInputs]
    ) -> None:
        entry = self.registry.get(task.agent)
        llm = MeteredLLM(
            self.provider,
            store=self.store,
            scope_id=task.input.get("budget_scope_id"),
            run_id=task.run_id,
            phase=task.phase,
            task_id=task.id,
            agent=task.agent,
            validate=self.registry.validator(task.agent),
            max_repairs=self.max_repairs,
            breakers=self.breakers,
        )
        lease = Lease(
            self.store, self.queue, task, delivery, worker=self.consumer, seconds=self.lease_seconds
        )
        work = asyncio.create_task(self._run_agent(entry, task, inputs, llm, lease))
        stop_beating = self._heartbeat(lease, work)
        try:
            try:
                await asyncio.wait({work})
            except asyncio.CancelledError:  # drained: stop the agent with us
                work.cancel()
                await asyncio.wait({work})
                raise
            if lease.lost is not None:  # its result would be fenced: do not commit, do not fail
                await self._lease_lost(task, lease.lost)
                return
            artifacts = self._validated(task, work.result())
        except Exception as exc:
            stop_beating()
            self.failed += 1
            tracing.record_error(exc)
            status = TaskStatus.FAILED
            await self.store.fail_task(
                task.id,
                attempt=task.attempt,
                error=encode_task_error(exc),
                status=status,
                events=[
                    Event("task.failed", {"error": encode_task_error(exc)}, phase=task.phase, task_id=task.id)
                ],
                notice=task_notice(task, status),
            )
            metrics.task_finished(task.agent, "failed")
            await self._after_commit()
            return
        finally:
            stop_beating()
        usage = llm.usage
        result = await self.store.commit_task_result(
            task.id,
            attempt=task.attempt,
            output={
                "artifact_types": [a.type for a in artifacts],
                "input_tokens": usage.input_tokens,
                "output_tokens": usage.output_tokens,
                "cost_usd": usage.cost_usd,
            },
            artifacts=artifacts,
            events=[
                Event(
                    "task.succeeded",
                    {
                        "artifacts": [a.type for a in artifacts],
                        "cost_usd": usage.cost_usd,
                        "tokens": usage.input_tokens + usage.output_tokens,
                    },
                    phase=task.phase,
                    task_id=task.id,
                )
            ],
            notice=task_notice(task, TaskStatus.SUCCEEDED),
        )
        if result.task_id != task.id:  # another task of the same key committed first: this row too
            await self._settle_done(task, result)
        self.completed += 1
        metrics.task_finished(task.agent, "succeeded")
        await self._after_commit()

    async def _run_agent(
        self,
        entry: AgentEntry,
        task: TaskRecord,
        inputs: Awaitable[TaskInputs],
        llm: MeteredLLM,
        lease: Lease,
    ) -> Sequence[Artifact]:
        """Build the task's context and run its agent within the task's deadline."""
        context = await build_context(
            self.store,
            task,
            await inputs,
            llm=llm,
            heartbeat=lease.renew,
            with_run_summary=bool(getattr(entry.cls, "needs_run_summary", False)),
            cancelled=lease.cancelled,
        )
        timeout = None
        if task.deadline is not None:
            timeout = max((task.deadline - datetime.now(UTC)).total_seconds(), 0.001)
        async with asyncio.timeout(timeout):
            return await self._runner(entry, context, task_info(task))

    async def _lease_lost(self, task: TaskRecord, why: LeaseLost) -> None:
        """The agent was stopped because its lease went; hand the task back if it is still ours.

        Fenced (another attempt owns the row, or it ended): nothing to do. Only the queue
        entry went (reclaimed by a host that found our lease live, dead-lettered, or lost
        with Redis) while the row is still our attempt: re-queue it as attempt + 1 now,
        rather than leave it to run out its lease.
        """
        log.warning("task %s attempt %s: lease lost (%s); agent stopped", task.id, task.attempt, why)
        metrics.task_finished(task.agent, "lease_lost")
        if why.fenced:
            return
        try:
            await requeue(
                self.store, task, reason=f"lease lost: {why}", event="task.retried", label="lease_lost"
            )
        except (Conflict, NotFound) as exc:  # the row moved on meanwhile (dead-lettered, requeued, ended)
            log.info("task %s not re-queued after losing its lease: %s", task.id, exc.message)
            return
        await self._after_commit()

    async def _after_commit(self) -> None:
        if self.after_commit is not None:
            try:
                await self.after_commit()
            except Exception:  # the outbox relay retries on its own; never fail a committed task
                log.exception("after-commit hook failed")

    def _validated(self, task: TaskRecord, produced: Any) -> list[NewArtifact]:
        """Check the agent returned what it declared, each artifact schema-valid."""
        decl = self.registry.get(task.agent).cls.tasks[task.input.get("task", task.task_key)]
        validate = self.registry.validator(task.agent)
        if not isinstance(produced, list | tuple) or not all(isinstance(a, Artifact) for a in produced):
            kind = type(produced).__name__
            raise AgentError(f"agent {task.agent!r} must return a list of Artifact, not {kind}")
        out: list[NewArtifact] = []
        for a in produced:
            if a.type not in decl.produces:
                raise AgentError(f"agent {task.agent!r} returned undeclared artifact type {a.type!r}")
            errors = validate(a.type, a.content)
            if errors:
                raise AgentError(f"{a.type} failed its schema: {'; '.join(errors[:5])}", retryable=True)
            out.append(
                NewArtifact(
                    type=a.type, content=a.content, model=a.model, input_artifact_ids=a.input_artifact_ids
                )
            )
        missing = set(decl.produces) - {a.type for a in out}
        if missing:
            raise AgentError(f"agent {task.agent!r} did not produce {sorted(missing)}", retryable=True)
        return out

    def _heartbeat(self, lease: Lease, work: asyncio.Task[Any]) -> Callable[[], None]:
        """Renew ``lease`` every ``heartbeat_seconds`` from then on; returns what stops it.

        The first renewal is a timer, and only when it fires does a renewal task start:
        most tasks end long before, and a timer armed and cancelled costs a fraction of a
        task started and cancelled per delivery.
        """
        beating: list[asyncio.Task[None]] = []
        timer = asyncio.get_running_loop().call_later(
            self.heartbeat_seconds, lambda: beating.append(asyncio.create_task(self._beat(lease, work)))
        )

        def stop() -> None:
            timer.cancel()
            for t in beating:
                t.cancel()

        return stop

    async def _beat(self, lease: Lease, work: asyncio.Task[Any]) -> None:
        """Renew the lease now and every ``heartbeat_seconds``; stop the agent when it is lost."""
        while True:
            try:
                await lease.renew()
            except LeaseLost:
                work.cancel()
                return
            except IdeaMineError as exc:  # store or queue briefly unreachable: try again next beat
                log.warning("task %s: lease renewal failed: %s", lease.task.id, exc.message)
            await asyncio.sleep(self.heartbeat_seconds)


def _retrieved(read: asyncio.Future[TaskInputs]) -> None:
    """Mark a prefetch's error seen: a task that never started never awaits its inputs."""
    if not read.cancelled():
        read.exception()
