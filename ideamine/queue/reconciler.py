"""The outbox publisher and the reconciler: the store is the truth, the queue catches up.

DESIGN §3.1: losing Redis entirely must lose no task. Two passes make that true:

- :meth:`Reconciler.publish_outbox` publishes what the store *promised* to publish
  (outbox rows written in the same transaction as the task rows) and marks the rows
  published afterwards. Every orchestrator replica and every agent host relays the one
  outbox, so each row is *claimed* by one relay and published by it once. A relay's own
  process inserts its rows already claimed for it (:meth:`RunStore.keep_written_outbox`);
  everything else a pass claims (:meth:`RunStore.claim_outbox`): concurrent relays take
  disjoint rows. A relay that crashes between claim and mark leaves rows whose claim
  expires after ``claim_seconds``; another relay publishes them then — a duplicate only
  if the crash came after the publish, which the idempotency key makes harmless. A
  publish that fails (queue full or gone) gives its unpublished rows back at once.
  :meth:`Reconciler.relay` is how a process publishes its own rows after each commit
  (no claim statement); calls that arrive while a pass runs share the next pass. The
  periodic sweeps run the whole :meth:`~Reconciler.publish_outbox`.
- :meth:`Reconciler.reconcile` compares every unfinished (QUEUED/RUNNING) task with the
  task ids actually in the tasks stream and re-publishes the missing ones — after a
  ``FLUSHALL``, a failover to an empty replica, or a message dead-lettered before its
  task was marked DEAD.

Written against the :class:`~ideamine.store.base.RunStore` and
:class:`~ideamine.queue.base.TaskQueue` protocols only, so it runs the same in the
distributed and the embedded mode.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ideamine import metrics
from ideamine.batching import Grouped
from ideamine.enums import TaskStatus
from ideamine.errors import QueueFull
from ideamine.ids import new_id
from ideamine.queue.base import TaskQueue
from ideamine.queue.message import MalformedMessage, Notice, TaskMessage
from ideamine.store.base import OUTBOX_CLAIM_SECONDS, RunStore
from ideamine.store.records import OutboxRecord, TaskRecord

__all__ = ["Reconciler", "ReconcileReport", "task_message"]

log = logging.getLogger(__name__)

#: Outbox topic of task messages (rows written by ``RunStore.create_tasks``/``requeue_task``).
TASKS_TOPIC = "tasks"
#: Outbox topic of completion notices (rows written by ``commit_task_result``/``fail_task``).
NOTICES_TOPIC = "notices"

_PUBLISHABLE = frozenset({TaskStatus.QUEUED, TaskStatus.RUNNING})


def task_message(task: TaskRecord, *, trace: dict[str, str] | None = None) -> TaskMessage:
    """The queue message for a task row (its current attempt)."""
    deadline: datetime | None = task.deadline
    return TaskMessage(
        task_id=task.id,
        run_id=task.run_id,
        phase=task.phase,
        agent=task.agent,
        attempt=task.attempt,
        idempotency_key=task.idempotency_key,
        deadline=deadline.isoformat() if deadline is not None else None,
        trace=dict(trace or {}),
    )


def _message_of(payload: dict[str, Any]) -> TaskMessage | None:
    """The message a task row's outbox payload announces (None: a row written before payloads had the deadline)."""
    if "deadline" not in payload:
        return None
    deadline = payload["deadline"]
    return TaskMessage(
        task_id=str(payload["task_id"]),
        run_id=str(payload["run_id"]),
        phase=str(payload["phase"]),
        agent=str(payload["agent"]),
        attempt=int(payload["attempt"]),
        idempotency_key=str(payload["idempotency_key"]),
        deadline=None if deadline is None else str(deadline),
        trace=_trace_of(payload),
    )


def _trace_of(payload: dict[str, Any]) -> dict[str, str]:
    trace = payload.get("trace")
    if isinstance(trace, dict):
        return {str(k): str(v) for k, v in trace.items()}
    return {}


@dataclass(frozen=True)
class ReconcileReport:
    """What one pass did.

    Attributes:
        published: task messages published from outbox rows.
        notices: notices published from outbox rows.
        skipped: outbox rows marked published without a message (task finished or gone,
            or an unreadable notice).
        republished: unfinished tasks whose message was missing from the queue.
        checked: unfinished tasks examined by ``reconcile``.
        backlogged: True when the queue pushed back (QueueFull); the rest waits for
            the next pass.
    """

    published: int = 0
    notices: int = 0
    skipped: int = 0
    republished: int = 0
    checked: int = 0
    backlogged: bool = False


class Reconciler:
    """Moves outbox rows to the queue and repairs a queue that lost messages.

    Lifecycle: constructing one asks the store to claim the outbox rows it writes for
    this relay (:meth:`RunStore.keep_written_outbox`); otherwise stateless between
    calls. A process calls ``relay()`` after each commit that wrote outbox rows,
    ``publish_outbox()`` as a periodic sweep, and ``reconcile()`` on start-up and
    periodically.

    Args:
        store: the outbox's store.
        queue: where the messages go.
        batch_size: rows claimed (and published) per round trip.
        owner: the name this relay claims outbox rows under; unique per process (a
            replica or host id). Default: a fresh random name.
        claim_seconds: how long a claim keeps other relays off the rows (see
            :meth:`RunStore.claim_outbox`).
    """

    def __init__(
        self,
        store: RunStore,
        queue: TaskQueue,
        *,
        batch_size: int = 100,
        owner: str | None = None,
        claim_seconds: float = OUTBOX_CLAIM_SECONDS,
    ) -> None:
        self.store = store
        self.queue = queue
        self.batch_size = batch_size
        self.owner = owner or f"relay-{new_id()}"
        self.claim_seconds = claim_seconds
        store.keep_written_outbox(self.owner, claim_seconds=claim_seconds)
        #: relay() callers, served by passes: a pass takes every caller waiting when it starts
        self._passes: Grouped[None, ReconcileReport] = Grouped(self._relay_pass, max_batch=sys.maxsize)

    async def relay(self) -> ReconcileReport:
        """Publish the rows this process's commits wrote (:meth:`publish_written`); callers share passes.

        Every caller returns after a whole pass that *started after its call* — so the
        rows its own commit wrote have gone out (or wait for a later pass on an error,
        or are being published by a sweep that took them first) — but callers do not run
        one pass each: those arriving together (the members of one batched commit, woken
        in one loop iteration) share the next pass, and so do those arriving while a pass
        runs. A host committing 32 tasks at once then publishes and marks their notices
        in one pass instead of 32, and the 32 callers continue together — their queue
        acknowledgements go out as one batch too.
        """
        return await self._passes(None)

    async def _relay_pass(self, callers: Sequence[None]) -> list[ReconcileReport]:
        report = await self.publish_written()
        return [report] * len(callers)

    async def publish_written(self) -> ReconcileReport:
        """Publish the rows this process's own commits wrote, then mark them published.

        They were claimed for this relay as they were inserted
        (:meth:`RunStore.keep_written_outbox`), so no claim statement is needed: this is
        what :meth:`relay` runs after each commit.
        """
        return await self._publish_claimed(self.store.take_written_outbox(), own=True)

    async def publish_outbox(self) -> ReconcileReport:
        """Publish this process's own rows, then claim and publish everyone else's.

        Claimed rows are taken batch by batch. The claim pass catches what no relay
        published: rows of a process that died before its relay ran, rows whose publish
        failed and were given back, rows written before this relay existed. Rows of a
        topic this code does not know stay claimed until the claim expires (a newer relay
        may know them).
        """
        report = await self.publish_written()
        while not report.backlogged and (
            rows := await self.store.claim_outbox(
                self.owner, limit=self.batch_size, claim_seconds=self.claim_seconds
            )
        ):
            report = _plus(report, await self._publish_claimed(rows, own=False))
            if len(rows) < self.batch_size:
                break
        return report

    async def _publish_claimed(self, rows: Sequence[OutboxRecord], *, own: bool) -> ReconcileReport:
        """Publish rows claimed by this relay (task messages of a batch before its notices), then mark them.

        ``own``: the rows were written by this process's commits just now (see
        :meth:`_publish_tasks`).

        When the queue pushes back (QueueFull) what went out is marked and the rest is
        given back at once; so it is when the publish fails otherwise (and the error
        propagates).
        """
        published = notices = skipped = 0
        done: list[int] = []
        try:
            for i in range(0, len(rows), self.batch_size):
                batch = rows[i : i + self.batch_size]
                for topic in (TASKS_TOPIC, NOTICES_TOPIC):
                    group = [r for r in batch if r.topic == topic]
                    if not group:
                        continue
                    if topic == TASKS_TOPIC:
                        sent, dropped = await self._publish_tasks(group, own=own)
                        published += sent
                    else:
                        sent, dropped = await self._publish_notices(group)
                        notices += sent
                    skipped += dropped
                    done += [r.id for r in group]
        except QueueFull:
            log.warning("queue full: %d outbox rows wait for the next pass", len(rows) - len(done))
            await self._settle(rows, done)
            return ReconcileReport(published, notices, skipped, backlogged=True)
        except BaseException:
            with contextlib.suppress(Exception):
                await self._settle(rows, done)
            raise
        await self.store.mark_published(done)
        return ReconcileReport(published=published, notices=notices, skipped=skipped)

    async def _settle(self, rows: Sequence[OutboxRecord], done: Sequence[int]) -> None:
        """After a failed publish: mark what went out, give the rest back to any relay."""
        await self.store.mark_published(done)
        sent = set(done)
        claims: dict[str, list[int]] = {}
        for r in rows:
            if r.id not in sent:
                claims.setdefault(r.claimed_by or self.owner, []).append(r.id)
        for owner, ids in claims.items():
            await self.store.release_outbox(ids, owner=owner)

    async def reconcile(self) -> ReconcileReport:
        """Drain the outbox, then re-publish every unfinished task missing from the queue.

        The store is read before the queue: a task that finishes in between is merely
        re-published once more (and acked without a re-run thanks to its idempotency
        key), whereas the opposite order could miss a task.
        """
        report = await self.publish_outbox()
        if report.backlogged:
            return report
        unfinished = [t for t in await self.store.unfinished_tasks() if t.status in _PUBLISHABLE]
        present = await self.queue.queued_task_ids()
        missing = [task_message(t) for t in unfinished if t.id not in present]
        republished = 0
        try:
            for i in range(0, len(missing), self.batch_size):
                chunk = missing[i : i + self.batch_size]
                await self.queue.publish(chunk)
                republished += len(chunk)
                metrics.TASKS_REPUBLISHED.inc(len(chunk))
        except QueueFull:
            log.warning("queue full: %d missing tasks wait for the next pass", len(missing) - republished)
            return _with(report, republished, len(unfinished), backlogged=True)
        if missing:
            log.warning("re-published %d tasks missing from the queue", len(missing))
        return _with(report, republished, len(unfinished), backlogged=False)

    async def _publish_tasks(self, rows: Sequence[OutboxRecord], *, own: bool) -> tuple[int, int]:
        """Publish one message per task of ``rows``; returns (published, rows skipped).

        Rows a sweep claimed may be old (a dead process's): their messages are built from
        the task row — the current attempt, and none for a task that has finished. Rows
        this process's own commits just wrote are built from their payloads, with no
        read; one whose task moved on meanwhile costs a message the worker drops.
        Several rows for one task (re-queued twice) become one message.
        """
        fresh: dict[str, TaskMessage] = {}
        traces: dict[str, dict[str, str]] = {}  # task -> trace of its first row, in outbox order
        for row in rows:
            if row.task_id is None:
                continue
            message = _message_of(row.payload) if own else None
            if message is None:
                traces.setdefault(row.task_id, _trace_of(row.payload))
            elif row.task_id not in fresh or fresh[row.task_id].attempt < message.attempt:
                fresh[row.task_id] = message
        messages = list(fresh.values())
        if traces:
            tasks = await self.store.get_tasks(list(traces))
            messages += [task_message(t, trace=traces[t.id]) for t in tasks if t.status in _PUBLISHABLE]
        await self.queue.publish(messages)
        metrics.TASKS_PUBLISHED.inc(len(messages))
        return len(messages), len(rows) - len(messages)

    async def _publish_notices(self, rows: Sequence[OutboxRecord]) -> tuple[int, int]:
        notices: list[Notice] = []
        for row in rows:
            try:
                notices.append(Notice.from_payload(row.payload))
            except MalformedMessage as err:
                log.warning("outbox notice %s is unreadable, dropped: %s", row.id, err)
        await self.queue.publish_notices(notices)
        return len(notices), len(rows) - len(notices)


def _plus(a: ReconcileReport, b: ReconcileReport) -> ReconcileReport:
    """Two outbox passes' counts added up (backlogged if the later one was)."""
    return ReconcileReport(
        published=a.published + b.published,
        notices=a.notices + b.notices,
        skipped=a.skipped + b.skipped,
        backlogged=b.backlogged,
    )


def _with(report: ReconcileReport, republished: int, checked: int, *, backlogged: bool) -> ReconcileReport:
    return ReconcileReport(
        published=report.published,
        notices=report.notices,
        skipped=report.skipped,
        republished=republished,
        checked=checked,
        backlogged=backlogged,
    )
