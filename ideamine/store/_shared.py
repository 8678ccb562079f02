"""Backend-neutral rules both store backends apply.

Everything here is pure Python: the decisions that must come out the same on
PostgreSQL and SQLite (which transitions are allowed, when a worker is fenced off,
how a page token looks, how Q-001 is spelled, which budget thresholds a settle
crossed, how a database row becomes a record) live in one place so the two backends
cannot drift apart. SQL stays in the backends.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import enum
import functools
import json
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from ideamine.canonical import canonical_json
from ideamine.enums import TERMINAL_TASK_STATUSES, TaskStatus
from ideamine.errors import BudgetExceeded, Conflict, InvalidInput, StaleAttempt
from ideamine.store.ledger import iso_timestamp
from ideamine.store.records import JSON, BudgetLimits, TaskRecord, UsageTotals
from ideamine.tracing import inject_trace

__all__ = [
    "THRESHOLDS",
    "BUDGET_DIMENSIONS",
    "TIMER_CLAIM_TIMEOUT",
    "ACCEPTED_ANSWER_STATUSES",
    "FAIL_STATUSES",
    "TASKS_TOPIC",
    "NOTICES_TOPIC",
    "utcnow",
    "to_iso",
    "dumps",
    "check_status",
    "check_expected",
    "search_terms",
    "check_attempt",
    "key_committed",
    "encode_page_token",
    "decode_page_token",
    "format_code",
    "artifact_key",
    "task_message",
    "new_crossings",
    "limits_exceeded",
    "check_fits",
    "overshoot",
    "RUN_USAGE_SQL",
    "usage_from_row",
    "to_record",
    "limits_from_row",
    "limits_params",
]

#: budget thresholds (percent of a limit) that are recorded, each once per scope
THRESHOLDS: tuple[int, ...] = (50, 80, 95, 100)

#: the dimensions a reservation holds; wall-clock time is enforced by deadlines instead
BUDGET_DIMENSIONS: tuple[str, ...] = ("tokens", "usd")

#: question statuses whose answers join the run's searchable knowledge base
ACCEPTED_ANSWER_STATUSES: tuple[str, ...] = ("ACCEPTED", "ANSWERED_BY_HUMAN")

#: the statuses ``fail_task`` may set
FAIL_STATUSES = TERMINAL_TASK_STATUSES - {TaskStatus.SUCCEEDED}

#: a timer claimed this long ago but never fired was abandoned (its claimer died between
#: mark and act): it is due for claiming again — acting twice is harmless by design
TIMER_CLAIM_TIMEOUT = timedelta(seconds=10)

#: outbox topic of task messages (published to the task stream)
TASKS_TOPIC = "tasks"
#: outbox topic of completion notices (published to the results stream)
NOTICES_TOPIC = "notices"

_E = TypeVar("_E", bound=enum.Enum)
_R = TypeVar("_R")


def utcnow() -> datetime:
    """The current time as an aware UTC datetime (the only clock the stores read)."""
    return datetime.now(UTC)


def to_iso(value: datetime) -> str:
    """Fixed-width ISO-8601 UTC text, so text comparison orders times correctly."""
    return iso_timestamp(value)


def dumps(value: Any) -> str:
    """Canonical JSON text: equal values are stored (and hashed) identically."""
    return canonical_json(value).decode("utf-8")


def check_status(
    table: Mapping[_E, frozenset[_E]],
    current: _E,
    new: _E,
    expected: Iterable[_E] | None,
    *,
    what: str,
    ident: str,
    allow_same: bool = False,
) -> None:
    """Refuse a status change that is unexpected or not in the transition table.

    Args:
        table: one of the ``ideamine.enums`` transition tables.
        current: the status stored now.
        new: the status the caller wants.
        expected: statuses the caller believes the object is in (None: any).
        what: the kind of object, for the message ("run", "task" ...).
        ident: its id, for the message and details.
        allow_same: accept ``current == new`` (a field update without a transition).

    Raises:
        Conflict: the status is not one of ``expected`` or ``current → new`` is not allowed.
    """
    if expected is not None:
        check_expected(current, expected, what=what, ident=ident)
    if allow_same and current == new:
        return
    if new not in table.get(current, frozenset()):
        raise Conflict(
            f"{what} {ident} cannot go from {current.name} to {new.name}",
            id=ident,
            status=current.name,
        )


def check_expected(current: _E, expected: Iterable[_E], *, what: str, ident: str) -> None:
    """Refuse a guarded update of an object that is not in one of the ``expected`` statuses.

    Raises:
        Conflict: ``current`` is not one of ``expected``.
    """
    wanted = set(expected)
    if current not in wanted:
        names = ", ".join(sorted(s.name for s in wanted)) or "nothing"
        raise Conflict(f"{what} {ident} is {current.name}, expected {names}", id=ident, status=current.name)


def search_terms(query: str) -> list[str]:
    """The words of a free-text knowledge-base query; each is matched literally, any may match.

    Users type questions, not query syntax: operators and quotes are dropped so a
    query can never be a syntax error in FTS5 or ``to_tsquery``.
    """
    return re.findall(r"\w+", query.lower())


def key_committed(task_id: str) -> Conflict:
    """The refusal to start a task whose idempotency key already has a committed result.

    Its effect exists (another task of the key committed it): running it again would pay
    for the model calls twice. The worker settles it from the result instead.
    """
    return Conflict(f"task {task_id}: its idempotency key already has a committed result", task_id=task_id)


def check_attempt(task: TaskRecord, attempt: int, *, worker: str | None = None) -> None:
    """Fence a worker: only the task's current attempt (and its worker) may write.

    Raises:
        StaleAttempt: ``attempt`` is not the task's attempt, or another worker holds it.
    """
    if task.attempt != attempt:
        raise StaleAttempt(
            f"task {task.id} is at attempt {task.attempt}, not {attempt}",
            task_id=task.id,
            attempt=attempt,
            current_attempt=task.attempt,
        )
    if worker is not None and task.worker != worker:
        raise StaleAttempt(
            f"task {task.id} attempt {attempt} is held by another worker",
            task_id=task.id,
            attempt=attempt,
        )


def encode_page_token(last_id: str) -> str:
    """An opaque cursor: the id of the last item of the page (ids are time-ordered)."""
    return base64.urlsafe_b64encode(dumps({"after": last_id}).encode()).decode().rstrip("=")


def decode_page_token(token: str) -> str | None:
    """The id a page token points after, or None for the first page.

    Raises:
        InvalidInput: the token was not made by :func:`encode_page_token`.
    """
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        after = json.loads(raw)["after"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput("malformed page token", field="page_token") from exc
    if not isinstance(after, str):
        raise InvalidInput("malformed page token", field="page_token")
    return after


def format_code(prefix: str, number: int) -> str:
    """Per-run display codes: ``format_code("Q", 1) == "Q-001"`` (wider past 999)."""
    return f"{prefix}-{number:03d}"


def artifact_key(task_key: str) -> str:
    """The artifact key a task's artifacts are versioned under.

    Per-story tasks are keyed ``"<task>:<story id>"`` by the planner; their artifacts
    are versioned per story. Every other task writes singletons (key ``""``).
    """
    _, sep, rest = task_key.partition(":")
    return rest if sep else ""


def task_message(task: TaskRecord) -> JSON:
    """The outbox payload that announces one attempt of a task to the queue.

    It carries only identifiers and the deadline: the worker reads the task row itself,
    so a message can never disagree with the store about the input. Plus the W3C trace
    context of the caller's span (the engine's phase attempt), which the relay copies
    into the message so the agent host's task span continues the orchestrator's trace.
    The relay of the process that wrote the row builds the queue message from it alone.
    """
    payload: JSON = {
        "task_id": task.id,
        "run_id": task.run_id,
        "phase": task.phase,
        "agent": task.agent,
        "agent_version": task.agent_version,
        "attempt": task.attempt,
        "idempotency_key": task.idempotency_key,
        "deadline": task.deadline.isoformat() if task.deadline is not None else None,
    }
    if trace := inject_trace():
        payload["trace"] = trace
    return payload


def _used_fraction_thresholds(used: float, limit: float | None) -> set[int]:
    if limit is None:
        return set()
    if limit <= 0:
        return set(THRESHOLDS) if used > 0 else set()
    # the same float-dust tolerance as limits_exceeded: 20 x $0.05 is 100 % of $1
    return {t for t in THRESHOLDS if used * 100 >= t * limit - 1e-7}


def new_crossings(
    limits: BudgetLimits, *, used_tokens: int, used_usd: float, already: Iterable[int]
) -> list[tuple[int, str]]:
    """Thresholds a scope has newly crossed, each with the first dimension that crossed it.

    A threshold is recorded once per scope whichever dimension reaches it first, so
    "80 % used" is announced once even when tokens and dollars both pass it.
    """
    done = set(already)
    found: dict[int, str] = {}
    for dimension, used, limit in (
        ("tokens", float(used_tokens), None if limits.tokens is None else float(limits.tokens)),
        ("usd", used_usd, limits.usd),
    ):
        for t in sorted(_used_fraction_thresholds(used, limit) - done):
            found.setdefault(t, dimension)
    return sorted(found.items())


def limits_exceeded(
    limits: BudgetLimits,
    *,
    used_tokens: int,
    reserved_tokens: int,
    used_usd: float,
    reserved_usd: float,
    tokens: int,
    usd: float,
) -> str | None:
    """The first dimension in which ``used + reserved + request`` passes the limit, if any."""
    if limits.tokens is not None and used_tokens + reserved_tokens + tokens > limits.tokens:
        return "tokens"
    # a tiny tolerance so float dust never refuses a reservation that exactly fits
    if limits.usd is not None and used_usd + reserved_usd + usd > limits.usd + 1e-9:
        return "usd"
    return None


def check_fits(scope: Mapping[str, Any], *, tokens: int, usd: float) -> None:
    """Refuse a reservation that would take a ``budget_scopes`` row past a limit.

    Raises:
        BudgetExceeded: naming the scope and the dimension that would overshoot.
    """
    dimension = limits_exceeded(
        limits_from_row(scope, "limit"),
        used_tokens=int(scope["used_tokens"]),
        reserved_tokens=int(scope["reserved_tokens"]),
        used_usd=float(scope["used_usd"]),
        reserved_usd=float(scope["reserved_usd"]),
        tokens=tokens,
        usd=usd,
    )
    if dimension is not None:
        raise overshoot(scope, dimension, tokens=tokens, usd=usd)


def overshoot(scope: Mapping[str, Any], dimension: str, *, tokens: int, usd: float) -> BudgetExceeded:
    """The refusal of a reservation that would take ``scope`` past its ``dimension`` limit."""
    return BudgetExceeded(
        f"reserving {tokens} tokens / ${usd:.4f} would overshoot the {scope['kind']} "
        f"budget {scope['name'] or scope['run_id']} in {dimension}",
        run_id=str(scope["run_id"]),
        scope_id=str(scope["id"]),
        dimension=dimension,
    )


#: a run's model calls summed in one row (``{mark}``: the backend's placeholder for the run id)
RUN_USAGE_SQL = """
SELECT count(*) AS calls, coalesce(sum(input_tokens), 0) AS input_tokens,
       coalesce(sum(output_tokens), 0) AS output_tokens, coalesce(sum(cost_usd), 0) AS cost_usd
FROM llm_calls WHERE run_id = {mark}
"""


def usage_from_row(row: Mapping[str, Any]) -> UsageTotals:
    """The totals of a :data:`RUN_USAGE_SQL` row."""
    return UsageTotals(row["calls"], row["input_tokens"], row["output_tokens"], float(row["cost_usd"]))


# --------------------------------------------------------------- rows → records
@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _identity(value: Any) -> Any:
    return value


def _json_value(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


@functools.cache
def _converter(hint: Any) -> Callable[[Any], Any]:
    """The function that turns one column value into the type ``hint`` declares.

    Built once per hint: rows are converted on every read, and inspecting type hints per
    value was the store's hottest path.
    """
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return _converter(inner[0]) if len(inner) == 1 else _identity
    if origin is tuple:
        as_str = typing.get_args(hint)[0] is str

        def to_tuple(value: Any) -> tuple[Any, ...]:
            items = _json_value(value)
            return tuple(str(i) for i in items) if as_str else tuple(items)

        return to_tuple
    if origin in (dict, list):
        return _json_value
    if isinstance(hint, type):
        if issubclass(hint, enum.Enum):
            return hint
        if hint is datetime:
            return _to_datetime
        if hint in (bool, int, float, str):
            return hint
    return _identity


def _to_datetime(value: Any) -> datetime:
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(parsed, datetime):
        raise TypeError(f"not a time: {value!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def to_record(cls: type[_R], row: Mapping[str, Any], **overrides: Any) -> _R:
    """Build a record dataclass from a row mapping, converting by the record's type hints.

    Text times become aware UTC datetimes, JSON text becomes dicts/lists, status names
    become enum members, JSON arrays become tuples. Fields that are not plain columns
    (e.g. a run's ``budget``) are passed in ``overrides``.
    """
    values: dict[str, Any] = {}
    for name, convert in _field_converters(cls):  # type: ignore[arg-type]
        if name in overrides:
            values[name] = overrides[name]
        else:
            value = row[name]
            values[name] = None if value is None else convert(value)
    return cls(**values)


@functools.cache
def _field_converters(cls: type) -> tuple[tuple[str, Callable[[Any], Any]], ...]:
    hints = _hints(cls)
    return tuple((f.name, _converter(hints[f.name])) for f in dataclasses.fields(cls))


def limits_from_row(row: Mapping[str, Any], prefix: str) -> BudgetLimits:
    """Budget limits stored as ``<prefix>_tokens``, ``<prefix>_usd``, ``<prefix>_wall_clock_seconds``."""
    tokens = row[f"{prefix}_tokens"]
    usd = row[f"{prefix}_usd"]
    wall = row[f"{prefix}_wall_clock_seconds"]
    return BudgetLimits(
        tokens=None if tokens is None else int(tokens),
        usd=None if usd is None else float(usd),
        wall_clock_seconds=None if wall is None else float(wall),
    )


def limits_params(limits: BudgetLimits) -> Sequence[Any]:
    """The three column values of a :class:`BudgetLimits`, in the order above."""
    return (limits.tokens, limits.usd, limits.wall_clock_seconds)
