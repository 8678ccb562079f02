"""Malformed and unknown-version task messages on the real Redis stream.

Hypothesis writes raw entries with ``publish_raw`` — mutations of a valid message
(fields dropped, replaced by arbitrary text or invalid UTF-8, an unknown ``v``, junk
``attempt``/``deadline``/``trace``) and entirely random field maps — in front of a valid
task. A real agent-host :class:`TaskWorker` (PostgreSQL store, offline model) consumes
the stream. Every entry that does not decode must land in the dead-letter stream with a
``malformed`` reason; one that happens to decode points at no task and is dropped; the
valid task behind them still succeeds, so the consumer never stalls on poison.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ideamine.enums import TaskStatus
from ideamine.ids import new_id
from ideamine.queue.message import Fields, MalformedMessage, TaskMessage
from tests.agent_host.support import seed_task
from tests.fuzz.conftest import Consumer
from tests.queue.helpers import eventually

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.postgres, pytest.mark.redis]

_VALID = TaskMessage(
    task_id=new_id(),
    run_id=new_id(),
    phase="intake",
    agent="intake",
    attempt=1,
    idempotency_key="k" * 64,
    deadline="2030-01-01T00:00:00+00:00",
    trace={"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
).encode()

_junk_value = st.one_of(
    st.text(max_size=30),
    st.binary(max_size=30),  # often not UTF-8
    st.sampled_from(
        ["", "0", "-1", "2", "99", "1.5", "null", "{", "[]", '{"a": 1}', "2030-01-01T00:00:00", "x" * 5000]
    ),
)


@st.composite
def _mutated(draw: st.DrawFn) -> Fields:
    """A valid message with some fields dropped or replaced and maybe extra ones."""
    out: Fields = {}
    for key, value in _VALID.items():
        action = draw(st.sampled_from(["keep", "keep", "drop", "replace"]))
        if action == "keep":
            out[key] = value
        elif action == "replace":
            out[key] = draw(_junk_value)
    out.update(draw(st.dictionaries(st.text(min_size=1, max_size=12), _junk_value, max_size=3)))
    return out or {"v": draw(_junk_value)}


_random_entry = st.dictionaries(
    st.one_of(st.text(min_size=1, max_size=12), st.binary(min_size=1, max_size=12)),
    _junk_value,
    min_size=1,
    max_size=8,
)
_version_only = st.builds(lambda v: {**_VALID, "v": v}, st.text(max_size=6).filter(lambda v: v != "1"))
entries = st.one_of(_mutated(), _random_entry, _version_only)


def _decodes(fields: Fields) -> bool:
    try:
        TaskMessage.decode(fields)
    except MalformedMessage:
        return False
    return True


@given(poison=st.lists(entries, min_size=1, max_size=4))
async def test_poison_entries_are_dead_lettered_and_the_consumer_keeps_working(
    consumer: Consumer, poison: list[Fields]
) -> None:
    ids = [await consumer.queue.publish_raw(fields) for fields in poison]
    task = await seed_task(
        consumer.store, consumer.queue, agent="intake", task_key="classify", phase="intake"
    )

    done = await eventually(
        lambda: consumer.store.get_task(task.id),
        lambda t: t.status in (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.DEAD),
        what="the valid task behind the poison",
    )
    assert done.status is TaskStatus.SUCCEEDED, done.error

    letters = {d.entry_id: d for d in await consumer.queue.dead_letters(count=100_000)}
    for entry_id, fields in zip(ids, poison, strict=True):
        if _decodes(fields):  # a message for no task: delivered, found nothing, acked
            assert entry_id not in letters
        else:
            assert entry_id in letters, f"malformed entry {fields!r} was not dead-lettered"
            assert letters[entry_id].reason.startswith("malformed"), letters[entry_id].reason
    # nothing stays delivered-but-unacknowledged (the valid task's ack follows its commit)
    await eventually(consumer.queue.stats, lambda s: s.pending == 0, what="every entry acknowledged")
