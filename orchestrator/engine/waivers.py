"""Where a gate waiver is consulted, and when it stops counting.

A waiver (``GateService.WaiveGate``) moves a FAILED phase to WAIVED at once, and a run
waiting for it continues. A waiver may carry ``expires_at``. It is consulted by the run
driver each time a drive begins — a run started, resumed, or adopted by another
orchestrator replica after a crash — and not in between: a WAIVED phase counts as passed
only while the *latest* waiver of that phase has not expired. If it has, the drive
records ``phase.waiver_expired`` and stops the run in NEEDS_WAIVER; phases that already
succeeded stay succeeded. The phase stays WAIVED (a terminal phase status), and an admin
continues the run by waiving the gate again (``WaiveGate`` accepts a WAIVED phase whose
waiver has expired), which makes that new waiver the latest one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from ideamine.store.base import RunStore
from ideamine.store.records import WaiverRecord

__all__ = ["expired", "latest_waiver", "lapsed_waivers"]


def latest_waiver(waivers: Sequence[WaiverRecord], phase: str) -> WaiverRecord | None:
    """The newest waiver of ``phase`` (the one that decides), None when it was never waived."""
    of_phase = [w for w in waivers if w.phase == phase]
    return max(of_phase, key=lambda w: w.created_at) if of_phase else None


def expired(waiver: WaiverRecord, now: datetime | None = None) -> bool:
    """Whether ``waiver`` no longer lets its gate pass (never, without ``expires_at``)."""
    return waiver.expires_at is not None and waiver.expires_at <= (now or datetime.now(UTC))


async def lapsed_waivers(
    store: RunStore, run_id: str, waived_phases: Iterable[str], *, now: datetime | None = None
) -> dict[str, WaiverRecord]:
    """The WAIVED phases of a run whose latest waiver has expired, with that waiver."""
    phases = list(waived_phases)
    if not phases:
        return {}
    waivers = await store.list_waivers(run_id)
    now = now or datetime.now(UTC)
    lapsed = {}
    for phase in phases:
        waiver = latest_waiver(waivers, phase)
        if waiver is not None and expired(waiver, now):
            lapsed[phase] = waiver
    return lapsed
