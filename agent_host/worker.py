"""The task worker: consume → fence → run the agent (heartbeating) → commit → ack.

One worker per agent host process (or one in the embedded process). For each delivery:

1. Load the task row. A terminal task, or a message for an older attempt, is acked and
   dropped (a redelivery or a stale duplicate).
2. If the task's idempotency key already has a committed result, ack without running
   the agent — the effect exists and its model calls were paid once.
3. ``start_task`` (QUEUED → RUNNING, fenced by attempt). A RUNNING task whose lease
   expired (its worker died) is re-queued with attempt + 1 instead.
4. Run the agent with its deadline while a heartbeat loop extends both the store lease
   and the queue lease.
5. Validate every artifact against the agent's schema, then commit result + artifacts +
   ledger events + completion notice in one transaction; only then ack.
6. Failures are recorded with their reason and retryable flag (the engine heals).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from agent_host.context import build_context, task_info
from ideamine.enums import TERMINAL_TASK_STATUSES, TaskStatus
from ideamine.errors import AgentError, Conflict, IdeaMineError, NotFound, encode_task_error
from ideamine.llm.base import LLMProvider
from ideamine.llm.breaker import BreakerRegistry
from ideamine.llm.client import MeteredLLM
from ideamine.plugins import AgentRegistry
from ideamine.queue.base import TaskQueue
from ideamine.queue.message import Delivery, TaskMessage
from ideamine.store.base import RunStore
from ideamine.store.records import Event, NewArtifact, TaskRecord

__all__ = ["TaskWorker"]

log = logging.getLogger(__name__)


class TaskWorker:
    """Runs agent tasks from a queue until shut down.

    Lifecycle: ``await worker.run()`` until ``shutdown()``; ``drain()`` stops taking new
    work and waits for in-flight tasks.
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
        self._inflight: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._agents: dict[str, Any] = {}
        self.completed = 0

    def _agent(self, name: str) -> Any:
        if name not in self._agents:
            self._agents[name] = self.registry.get(name).cls()
        return self._agents[name]

    async def run(self) -> None:
        """Consume and run tasks until :meth:`shutdown` or :meth:`drain`."""
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
                t = asyncio.create_task(self.handle(d), name=f"task:{d.message.task_id}")
                self._inflight.add(t)
                t.add_done_callback(self._inflight.discard)
        await self._wait_inflight()

    async def _reclaim(self) -> None:
        """Take over entries of dead consumers; mark dead-lettered tasks DEAD."""
        result = await self.queue.reclaim(self.consumer, min_idle_ms=int(self.lease_seconds * 1000))
        for dead in result.dead:
            task_id = getattr(dead, "task_id", None) or getattr(
                getattr(dead, "message", None), "task_id", None
            )
            if task_id:
                await self._mark_dead(str(task_id), getattr(dead, "reason", "deliveries exhausted"))
        for d in result.deliveries:
            t = asyncio.create_task(self.handle(d), name=f"task:{d.message.task_id}")
            self._inflight.add(t)
            t.add_done_callback(self._inflight.discard)

    async def _mark_dead(self, task_id: str, reason: str) -> None:
        with contextlib.suppress(NotFound, Conflict):
            task = await self.store.get_task(task_id)
            if task.status not in TERMINAL_TASK_STATUSES:
                await self.store.fail_task(
                    task.id,
                    attempt=task.attempt,
                    error=encode_task_error(AgentError(f"dead-lettered: {reason}")),
                    status=TaskStatus.DEAD,
                    events=[Event("task.dead", {"reason": reason}, phase=task.phase, task_id=task.id)],
                    notice=self._notice(task, TaskStatus.DEAD),
                )

    async def _wait_inflight(self) -> None:
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)

    async def drain(self) -> None:
        """Stop taking work and wait for in-flight tasks to finish."""
        self._stopping.set()
        await self._wait_inflight()

    def shutdown(self) -> None:
        """Ask :meth:`run` to return after in-flight tasks (idempotent)."""
        self._stopping.set()

    @staticmethod
    def _notice(task: TaskRecord, status: TaskStatus) -> dict[str, Any]:
        return {
            "task_id": task.id,
            "run_id": task.run_id,
            "attempt": task.attempt,
            "status": status.value,
            "phase": task.phase,
        }

    async def handle(self, delivery: Delivery[TaskMessage]) -> None:
        """Process one delivery end to end; never raises (failures are recorded)."""
        msg = delivery.message
        try:
            await self._handle(delivery)
        except IdeaMineError as exc:
            log.warning("task %s attempt %s: %s", msg.task_id, msg.attempt, exc.message)
        except Exception:  # a bug must not kill the consumer loop; the lease heals the task
            log.exception("task %s attempt %s crashed the worker path", msg.task_id, msg.attempt)
            return
        await self.queue.ack([delivery])

    async def _handle(self, delivery: Delivery[TaskMessage]) -> None:
        msg = delivery.message
        try:
            task = await self.store.get_task(msg.task_id)
        except NotFound:
            return
        if task.status in TERMINAL_TASK_STATUSES or task.attempt != msg.attempt:
            return
        if await self.store.get_task_result(task.idempotency_key) is not None:
            await self.store.commit_task_result(task.id, attempt=task.attempt, output={}, artifacts=[])
            return
        if task.status is TaskStatus.RUNNING:
            if task.lease_expires_at is not None and task.lease_expires_at < datetime.now(UTC):
                await self.store.requeue_task(
                    task.id,
                    attempt=task.attempt,
                    reason="worker lost",
                    events=[
                        Event(
                            "task.stalled", {"attempt": task.attempt + 1}, phase=task.phase, task_id=task.id
                        )
                    ],
                )
            return
        task = await self.store.start_task(
            task.id, attempt=task.attempt, worker=self.consumer, lease_seconds=self.lease_seconds
        )
        await self.store.append_events(
            task.run_id,
            [
                Event(
                    "task.started",
                    {"attempt": task.attempt, "worker": self.consumer},
                    phase=task.phase,
                    task_id=task.id,
                )
            ],
        )
        await self._execute(task, delivery)

    async def _execute(self, task: TaskRecord, delivery: Delivery[TaskMessage]) -> None:
        agent = self._agent(task.agent)
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

        async def heartbeat() -> None:
            await self.store.heartbeat_task(
                task.id, attempt=task.attempt, worker=self.consumer, lease_seconds=self.lease_seconds
            )
            await self.queue.extend(delivery)

        beat = asyncio.create_task(self._beat(heartbeat))
        try:
            context = await build_context(self.store, task, llm=llm, heartbeat=heartbeat)
            timeout = None
            if task.deadline is not None:
                timeout = max((task.deadline - datetime.now(UTC)).total_seconds(), 0.001)
            async with asyncio.timeout(timeout):
                produced = await agent.run(context, task_info(task))
            artifacts = self._validated(task, produced)
        except Exception as exc:
            beat.cancel()
            status = TaskStatus.FAILED
            await self.store.fail_task(
                task.id,
                attempt=task.attempt,
                error=encode_task_error(exc),
                status=status,
                events=[
                    Event("task.failed", {"error": encode_task_error(exc)}, phase=task.phase, task_id=task.id)
                ],
                notice=self._notice(task, status),
            )
            return
        finally:
            beat.cancel()
        usage = llm.usage
        await self.store.commit_task_result(
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
            notice=self._notice(task, TaskStatus.SUCCEEDED),
        )
        self.completed += 1

    def _validated(self, task: TaskRecord, produced: Any) -> list[NewArtifact]:
        """Check the agent returned what it declared, each artifact schema-valid."""
        decl = self.registry.get(task.agent).cls.tasks[task.input.get("task", task.task_key)]
        validate = self.registry.validator(task.agent)
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

    async def _beat(self, heartbeat: Callable[[], Any]) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            try:
                await heartbeat()
            except Conflict:
                return  # fenced: another attempt owns the task now
