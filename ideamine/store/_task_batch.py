"""Making a ``create_tasks`` batch ready to write, the same way on every backend.

Both backends call :func:`task_batch` first: it merges tasks that share an idempotency
key and routes the batch's events to their runs' ledger chains.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from ideamine.errors import InvalidInput
from ideamine.ids import new_id
from ideamine.store.records import Event, NewTask

__all__ = ["TaskBatch", "task_batch"]


@dataclasses.dataclass(frozen=True)
class TaskBatch:
    """A ``create_tasks`` batch made ready to write.

    Attributes:
        tasks: one task per idempotency key (its first occurrence), each with an id.
        slots: for every task given, the index in ``tasks`` of the row it became — tasks
            sharing a key share a row, so each position still gets its task back.
        events: the batch's events by run, runs in id order (the order their ledger
            chains are locked in, so concurrent batches cannot deadlock).
    """

    tasks: list[NewTask]
    slots: list[int]
    events: dict[str, list[Event]]


def task_batch(tasks: Sequence[NewTask], events: Sequence[Event]) -> TaskBatch:
    """Deduplicate a batch of new tasks by idempotency key and route its events to runs.

    Two tasks with one key in one batch would be two rows of which only one can ever
    commit (the other would wait forever), so they become one row. A batch of one run
    appends every event to that run's chain; a batch spanning runs needs each event to
    name a task of the batch (``Event.task_id``), whose run it goes to. An event naming
    a task merged into another is re-pointed at the row that stands for both.

    Raises:
        InvalidInput: events without tasks, or an event of a multi-run batch that names
            no task of the batch.
    """
    unique: list[NewTask] = []
    slots: list[int] = []
    by_key: dict[str, int] = {}
    same_as: dict[str, str] = {}
    for t in tasks:
        slot = by_key.setdefault(t.idempotency_key, len(unique))
        if slot == len(unique):
            unique.append(t if t.id else dataclasses.replace(t, id=new_id()))
        if t.id:
            same_as[t.id] = str(unique[slot].id)
        slots.append(slot)
    runs = {t.run_id for t in unique}
    if events and not runs:
        raise InvalidInput("events need at least one task", field="events")
    owner = {str(t.id): t.run_id for t in unique}
    routed: dict[str, list[Event]] = {}
    for e in events:
        if e.task_id is not None and same_as.get(e.task_id, e.task_id) != e.task_id:
            e = dataclasses.replace(e, task_id=same_as[e.task_id])
        run = next(iter(runs)) if len(runs) == 1 else owner.get(e.task_id or "")
        if run is None:
            raise InvalidInput(
                "in a batch of tasks of several runs every event must name a task of the batch (task_id)",
                field="events",
            )
        routed.setdefault(run, []).append(e)
    return TaskBatch(unique, slots, {run: routed[run] for run in sorted(routed)})
