"""What every servicer shares: the application context, tenancy, validation, paging.

Servicers are thin adapters: validate the request (raising
:class:`~ideamine.errors.InvalidInput` with field violations), look the run up *through the
caller's tenant* (another tenant's run is NOT_FOUND, never PERMISSION_DENIED, so existence
does not leak), call the store, convert back with :mod:`ideamine.convert`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import pluggy

from ideamine._proto.ideamine.v1 import common_pb2, run_pb2
from ideamine.catalogue import Catalogue
from ideamine.convert import run_to_proto, usage_to_proto
from ideamine.enums import PhaseStatus, RunStatus
from ideamine.errors import Conflict, FieldViolation, InvalidInput
from ideamine.plugins import AgentRegistry
from ideamine.store.base import RunStore
from ideamine.store.records import Event, LLMCallRecord, RunRecord, UsageTotals
from orchestrator.auth import current_principal
from orchestrator.config import OrchestratorConfig
from orchestrator.engine import events as ev

__all__ = [
    "App",
    "require",
    "tenant_run",
    "page_bounds",
    "paginate",
    "encode_cursor",
    "decode_cursor",
    "violations_message",
    "run_message",
    "resume_run",
    "phase_usage",
    "wall_clock",
]

T = TypeVar("T")

_OPEN_PHASE = (PhaseStatus.RUNNING, PhaseStatus.AWAITING_INPUT)


@dataclass
class App:
    """Everything the servicers use, built once by :mod:`orchestrator.server`.

    Attributes:
        store: the durable state.
        catalogue: the phase catalogue.
        registry: agents of the local plugin manager (what the engine plans with).
        plugins: the plugin manager (Markdown rendering hook).
        config: the service settings.
        wake: tell this replica's run owner that ``run_id`` may need driving now.
        flush_outbox: publish pending outbox rows to the queue now.
    """

    store: RunStore
    catalogue: Catalogue
    registry: AgentRegistry
    plugins: pluggy.PluginManager
    config: OrchestratorConfig
    wake: Callable[[str], None]
    flush_outbox: Callable[[], Awaitable[object]]


def require(value: str, field: str, *, max_chars: int = 10_000) -> str:
    """A required, non-blank text field of at most ``max_chars`` characters.

    Raises:
        InvalidInput: naming ``field``.
    """
    if not value or not value.strip():
        raise InvalidInput(f"{field} is required", field=field)
    if len(value) > max_chars:
        raise InvalidInput(f"{field} must be at most {max_chars:,} characters", field=field)
    return value


async def tenant_run(app: App, run_id: str) -> RunRecord:
    """The caller's run ``run_id``: INVALID_ARGUMENT when empty, NOT_FOUND when not theirs."""
    require(run_id, "run_id", max_chars=100)
    return await app.store.get_run(run_id, tenant=current_principal().tenant)


def page_bounds(page_size: int, *, default: int = 50, maximum: int = 500) -> int:
    """The effective page size: 0 means ``default``, larger than ``maximum`` is capped."""
    if page_size < 0:
        raise InvalidInput("page_size must not be negative", field="page_size")
    return min(page_size or default, maximum)


def encode_cursor(position: int) -> str:
    """An opaque page token for a position (an offset, or a sequence number)."""
    return base64.urlsafe_b64encode(json.dumps({"offset": position}).encode()).decode().rstrip("=")


def decode_cursor(token: str) -> int:
    """The position a page token names (0 for the first page).

    Raises:
        InvalidInput: the token was not made by :func:`encode_cursor`.
    """
    if not token:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        offset = json.loads(raw)["offset"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise InvalidInput("malformed page token", field="page_token") from None
    if not isinstance(offset, int) or offset < 0:
        raise InvalidInput("malformed page token", field="page_token")
    return offset


def paginate(items: Sequence[T], page_size: int, page_token: str, **bounds: int) -> tuple[list[T], str]:
    """One page of an in-memory listing and the token of the next page ("" on the last).

    Listings that are small per run (phases, artifacts, questions …) are read whole and
    paged by position; the token is opaque to clients.
    """
    size = page_bounds(page_size, **bounds)
    start = decode_cursor(page_token)
    chunk = list(items[start : start + size])
    return chunk, encode_cursor(start + size) if start + size < len(items) else ""


def wall_clock(start: datetime | None, end: datetime | None) -> float:
    """Seconds from ``start`` to ``end`` (now when unfinished), 0 when never started."""
    if start is None:
        return 0.0
    return max(((end or datetime.now(UTC)) - start).total_seconds(), 0.0)


def phase_usage(calls: Sequence[LLMCallRecord], phase: str | None, *, wall: float) -> common_pb2.Usage:
    """Usage of the calls of one phase (all calls when ``phase`` is None)."""
    totals = UsageTotals.of(c for c in calls if phase is None or c.phase == phase)
    return usage_to_proto(totals, wall_clock_seconds=wall)


async def run_message(app: App, run: RunRecord) -> run_pb2.Run:
    """The Run message with the derived fields: requested, current phases, usage."""
    executions, totals = await asyncio.gather(
        app.store.list_phase_executions(run.id), app.store.run_usage(run.id)
    )
    requested = run.labels.get("requested_phases")
    return run_to_proto(
        run,
        requested=[str(p) for p in requested] if isinstance(requested, list) else run.phases,
        current=[p.phase for p in executions if p.status in _OPEN_PHASE],
        usage=usage_to_proto(totals, wall_clock_seconds=wall_clock(run.created_at, run.finished_at)),
    )


async def resume_run(
    app: App, run: RunRecord, *, allowed: Sequence[RunStatus], payload: dict[str, Any]
) -> RunRecord:
    """Move a stopped run back to RUNNING (guarded) and wake the owner to drive it.

    Raises:
        Conflict: the run is not in one of the ``allowed`` statuses (FAILED_PRECONDITION).
    """
    if run.status not in allowed:
        raise Conflict(
            f"run {run.id} is {run.status.value}; it can be resumed only from "
            + ", ".join(s.value for s in allowed),
            run_id=run.id,
        )
    updated = await app.store.transition_run(
        run.id,
        expected=[run.status],
        new=RunStatus.RUNNING,
        reason="resumed",
        events=[Event(ev.RUN_RESUMED, {"from": run.status.value, **payload})],
    )
    app.wake(run.id)
    return updated


def violations_message(violations: Sequence[FieldViolation]) -> str:
    """One line naming every violation (the status message; details carry the list)."""
    return "; ".join(f"{v.field}: {v.description}" for v in violations)
