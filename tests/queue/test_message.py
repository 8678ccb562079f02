"""Message encoding: round trips, and typed refusal of anything malformed."""

from __future__ import annotations

import pytest

from ideamine.enums import TaskStatus
from ideamine.queue import MalformedMessage, Notice, TaskMessage
from ideamine.queue.message import DeadLetter
from tests.queue.helpers import make_messages


def _bytes(fields: dict[str, str | bytes]) -> dict[bytes, bytes]:
    return {k.encode(): v if isinstance(v, bytes) else v.encode() for k, v in fields.items()}


def test_task_message_round_trips_as_str_and_bytes() -> None:
    [m] = make_messages(1)
    assert TaskMessage.decode(m.encode()) == m
    assert TaskMessage.decode(_bytes(m.encode())) == m
    bare = TaskMessage("t", "r", "qa", "qa-agent", 2, "k")
    assert bare.encode()["deadline"] == "" and bare.encode()["trace"] == ""
    assert TaskMessage.decode(bare.encode()) == bare


def test_unknown_fields_are_ignored_within_a_version() -> None:
    [m] = make_messages(1)
    assert TaskMessage.decode({**m.encode(), "priority": "high"}) == m


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"v": "2"}, "unsupported message version '2'"),
        ({"v": ""}, "unsupported message version ''"),
        ({"run_id": ""}, "missing field 'run_id'"),
        ({"attempt": "x"}, "'attempt' is not an integer"),
        ({"attempt": "0"}, "'attempt' must be >= 1"),
        ({"deadline": "tomorrow"}, "deadline is not ISO-8601"),
        ({"deadline": "2030-01-01T00:00:00"}, "no UTC offset"),
        ({"trace": "{"}, "trace is not JSON"),
        ({"trace": '{"traceparent": 1}'}, "JSON object of strings"),
        ({"task_id": b"\xff"}, "not UTF-8"),
    ],
)
def test_malformed_task_messages_raise_typed_error(change: dict[str, str | bytes], reason: str) -> None:
    [m] = make_messages(1)
    with pytest.raises(MalformedMessage, match=reason) as err:
        TaskMessage.decode({**m.encode(), **change})
    assert not err.value.retryable


def test_notice_round_trips_and_validates_status() -> None:
    n = Notice(task_id="t", run_id="r", attempt=3, status=TaskStatus.DEAD, phase="build")
    assert Notice.decode(_bytes(n.encode())) == n
    assert Notice.from_payload(n.to_payload()) == n
    assert n.to_payload()["attempt"] == 3
    with pytest.raises(MalformedMessage, match="unknown task status"):
        Notice.decode({**n.encode(), "status": "EXPLODED"})
    with pytest.raises(MalformedMessage, match="missing field 'phase'"):
        Notice.from_payload({"task_id": "t", "run_id": "r", "attempt": 1, "status": "FAILED"})


def test_dead_letter_keeps_original_fields_verbatim() -> None:
    [m] = make_messages(1)
    letter = DeadLetter.of("1-0", _bytes(m.encode()), reason="why", deliveries=5, consumer="w")
    assert letter.message == m
    again = DeadLetter.decode(_bytes(letter.encode()))
    assert again == letter
    poison = DeadLetter.of("2-0", {b"x": b"\xff"}, reason="malformed", deliveries=1, consumer="w")
    assert poison.message is None and poison.fields == {"x": "\ufffd"}
