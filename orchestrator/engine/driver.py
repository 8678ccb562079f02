"""The run driver: walks a run's phase DAG, running independent phases concurrently.

Phases start as soon as every phase they need (among the run's phases) has succeeded,
so ``build → {security ∥ story-loop} → qa`` forks and joins by itself. When a phase stops
the run (needs a waiver, budget exhausted, failed), phases already running are allowed
to finish their current work and the run takes the most serious outcome.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from ideamine.enums import TERMINAL_RUN_STATUSES, PhaseStatus, RunStatus
from ideamine.errors import Conflict
from ideamine.store.records import Event, PhaseExecutionRecord, RunRecord
from ideamine.waiting import cancel_and_wait
from orchestrator.engine import events as ev
from orchestrator.engine import telemetry
from orchestrator.engine.artifact_view import HandoffListing
from orchestrator.engine.deps import EngineDeps
from orchestrator.engine.phase import PhaseOutcome, PhaseRunner
from orchestrator.engine.waivers import lapsed_waivers

__all__ = ["RunDriver"]

log = logging.getLogger(__name__)

#: which run status a stopping phase outcome leads to, most serious first
_SEVERITY = [
    (PhaseOutcome.FAILED, RunStatus.FAILED, ev.RUN_FAILED),
    (PhaseOutcome.BUDGET_EXHAUSTED, RunStatus.BUDGET_EXHAUSTED, ev.RUN_BUDGET_EXHAUSTED),
    (PhaseOutcome.NEEDS_WAIVER, RunStatus.NEEDS_WAIVER, ev.RUN_NEEDS_WAIVER),
    (PhaseOutcome.AWAITING_INPUT, RunStatus.AWAITING_INPUT, ev.RUN_AWAITING_INPUT),
]

_RESUMABLE = (
    RunStatus.PAUSED,
    RunStatus.BUDGET_EXHAUSTED,
    RunStatus.AWAITING_INPUT,
    RunStatus.NEEDS_WAIVER,
)


class RunDriver:
    """Drives one run from its current durable state to a stop or an end."""

    def __init__(self, deps: EngineDeps) -> None:
        self.deps = deps
        self.store = deps.store

    async def start(self, run_id: str) -> RunRecord:
        """Move the run to RUNNING (from PENDING, or resuming from a paused state)."""
        run = await self.store.get_run(run_id)
        if run.status is RunStatus.PENDING:
            return await self.store.transition_run(
                run_id, expected=[RunStatus.PENDING], new=RunStatus.RUNNING, events=[Event(ev.RUN_STARTED)]
            )
        if run.status in _RESUMABLE:
            return await self.store.transition_run(
                run_id,
                expected=[run.status],
                new=RunStatus.RUNNING,
                reason="resumed",
                events=[Event(ev.RUN_RESUMED, {"from": run.status.value})],
            )
        return run

    async def drive(self, run_id: str) -> RunRecord:
        """Run every remaining phase; return the run in its resulting status (traced and measured)."""
        return await telemetry.observed_run(self.store, run_id, self._drive)

    async def _drive(self, run_id: str) -> RunRecord:
        run = await self.start(run_id)
        if run.status is not RunStatus.RUNNING:
            return run
        executions = {p.phase: p for p in await self.store.list_phase_executions(run_id)}
        complete = {
            n for n, p in executions.items() if p.status in (PhaseStatus.SUCCEEDED, PhaseStatus.WAIVED)
        }
        wanted = [n for n in run.phases]
        running: dict[asyncio.Task[PhaseOutcome], str] = {}
        listing = HandoffListing()  # a phase starts from the artifacts its predecessor read
        stops = await self._lapsed_waivers(run_id, executions, complete)
        try:
            while True:
                if not stops:
                    for name in wanted:
                        spec = self.deps.catalogue.phase(name)
                        needs = [n for n in spec.needs if n in wanted]
                        if (
                            name in complete
                            or name in running.values()
                            or not all(n in complete for n in needs)
                        ):
                            continue
                        task = asyncio.create_task(
                            PhaseRunner(self.deps, run, spec, listing).run_phase(), name=f"phase:{name}"
                        )
                        running[task] = name
                if not running:
                    break
                finished, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for t in finished:
                    name = running.pop(t)
                    outcome = t.result()
                    if outcome is PhaseOutcome.SUCCEEDED:
                        complete.add(name)
                    else:
                        stops.append(outcome)
        finally:
            # a drive that ends early (cancelled: its replica lost the run lease; or a phase
            # raised) must not leave phase tasks advancing the run behind its back
            await cancel_and_wait(running)
        return await self._conclude(run_id, wanted, complete, stops)

    async def _lapsed_waivers(
        self, run_id: str, executions: Mapping[str, PhaseExecutionRecord], complete: set[str]
    ) -> list[PhaseOutcome]:
        """Take phases whose waiver expired out of ``complete``: the run needs a new waiver."""
        waived = [n for n, p in executions.items() if p.status is PhaseStatus.WAIVED]
        lapsed = await lapsed_waivers(self.store, run_id, waived)
        for phase, waiver in lapsed.items():
            complete.discard(phase)
            expired_at = waiver.expires_at.isoformat() if waiver.expires_at else None
            payload = {"waiver_id": waiver.id, "expired_at": expired_at}
            await self.store.append_events(run_id, [Event(ev.PHASE_WAIVER_EXPIRED, payload, phase=phase)])
            log.info("run %s: the waiver of %s expired at %s", run_id, phase, expired_at)
        return [PhaseOutcome.NEEDS_WAIVER] if lapsed else []

    async def _conclude(
        self, run_id: str, wanted: list[str], complete: set[str], stops: list[PhaseOutcome]
    ) -> RunRecord:
        for outcome, status, event in _SEVERITY:
            if outcome in stops:
                return await self._transition(run_id, status, event)
        if all(n in complete for n in wanted):
            return await self._transition(run_id, RunStatus.SUCCEEDED, ev.RUN_COMPLETED)
        return await self.store.get_run(run_id)  # stopped from outside (paused, cancelled)

    async def _transition(self, run_id: str, status: RunStatus, event: str) -> RunRecord:
        try:
            return await self.store.transition_run(
                run_id, expected=[RunStatus.RUNNING], new=status, reason=event, events=[Event(event)]
            )
        except Conflict:
            run = await self.store.get_run(run_id)
            if run.status in TERMINAL_RUN_STATUSES or run.status is not RunStatus.RUNNING:
                return run
            raise
