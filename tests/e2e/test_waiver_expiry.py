"""Where a waiver is consulted: the run driver, each time a drive begins.

A guard that always blocks intake makes the gate fail every attempt, so the run stops in
NEEDS_WAIVER (real SQLite store, in-process queue, offline model). The waiver is then
recorded exactly as ``GateService.WaiveGate`` records it (phase WAIVED, waiver row) and
the run driven again: an expired waiver stops it in NEEDS_WAIVER again, a valid one lets
it through.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ideamine import Draft, Finding, hookimpl
from ideamine.embedded import EmbeddedRuntime
from ideamine.enums import PhaseStatus, RunStatus
from ideamine.llm.offline import OfflineProvider
from ideamine.runfile import load_run_file
from orchestrator.engine import events as ev

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "orchestrations" / "todo-app.yaml"


class BlockIntake:
    """Fails the intake gate on every attempt."""

    name = "block-intake"

    def check(self, draft: Draft) -> list[Finding]:
        return [Finding(self.name, "never good enough")] if draft.phase.name == "intake" else []


@hookimpl
def ideamine_register_guards() -> list[Any]:
    return [BlockIntake()]


async def _waive(rt: EmbeddedRuntime, run_id: str, expires_at: datetime | None) -> None:
    """What WaiveGate stores: the waiver, and the phase WAIVED (the first time)."""
    await rt.store.add_waiver(
        run_id, "intake", granted_by="user:admin", justification="pilot", expires_at=expires_at
    )
    pe = await rt.store.get_phase_execution(run_id, "intake")
    if pe.status is PhaseStatus.FAILED:
        await rt.store.upsert_phase_execution(
            run_id, "intake", expected=[PhaseStatus.FAILED], status=PhaseStatus.WAIVED, attempt=pe.attempt
        )


@asynccontextmanager
async def _stopped_at_intake(tmp_path: Path) -> AsyncIterator[tuple[EmbeddedRuntime, str]]:
    """An intake-only run whose gate failed every attempt: NEEDS_WAIVER."""
    request = replace(load_run_file(str(EXAMPLE)), phases=("intake",), requested_phases=("intake",))
    plugin = sys.modules[__name__]  # this module is the plugin: it registers BlockIntake
    async with EmbeddedRuntime(
        db_path=tmp_path / "db.sqlite3", provider=OfflineProvider(), extra_plugins=[plugin]
    ) as rt:
        run = await rt.submit(request)
        assert (await rt.drive(run.id)).status is RunStatus.NEEDS_WAIVER
        yield rt, run.id


async def _expiries(rt: EmbeddedRuntime, run_id: str) -> list[tuple[str | None, str]]:
    events = await rt.store.list_events(run_id, limit=10_000)
    return [(e.phase, e.payload["waiver_id"]) for e in events if e.type == ev.PHASE_WAIVER_EXPIRED]


async def test_an_expired_waiver_no_longer_lets_the_gate_pass(tmp_path: Path) -> None:
    async with _stopped_at_intake(tmp_path) as (rt, run_id):
        # waived, but the waiver expired before the run was driven again
        await _waive(rt, run_id, datetime.now(UTC) - timedelta(seconds=1))
        assert (await rt.drive(run_id)).status is RunStatus.NEEDS_WAIVER
        lapsed = (await rt.store.list_waivers(run_id))[-1]
        assert await _expiries(rt, run_id) == [("intake", lapsed.id)]
        assert (await rt.store.get_phase_execution(run_id, "intake")).status is PhaseStatus.WAIVED

        # waived again, valid for an hour: the next drive passes the gate
        await _waive(rt, run_id, datetime.now(UTC) + timedelta(hours=1))
        final = await rt.drive(run_id)
        assert final.status is RunStatus.SUCCEEDED, final.status_reason
        assert len(await _expiries(rt, run_id)) == 1


async def test_a_waiver_without_expiry_never_lapses(tmp_path: Path) -> None:
    async with _stopped_at_intake(tmp_path) as (rt, run_id):
        await _waive(rt, run_id, None)
        assert (await rt.drive(run_id)).status is RunStatus.SUCCEEDED
        assert await _expiries(rt, run_id) == []
