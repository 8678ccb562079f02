"""One phase of one run, as an explicit state machine over its attempts.

    Plan → Dispatch → Guard → Clarify → Handoff ─┬─ PASS/WARN → SUCCEEDED
                 ▲        (Heal runs inside       ├─ FAIL, attempts left → next attempt
                 │         Dispatch's wait loop)  │   (only tasks feeding failed metrics,
                 └────────────────────────────────┘    findings added to their input)
                                                  └─ FAIL, none left → NEEDS_WAIVER / FAILED

Everything the machine decides is re-derived from the store, so a resumed phase picks up
exactly where the crashed one stopped: tasks that exist are not created again, tasks that
succeeded are never re-run.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from ideamine.catalogue import PhaseSpec
from ideamine.enums import GateDecision, PhaseStatus, Policy, RunStatus
from ideamine.guards import Draft, run_guards
from ideamine.store.records import ArtifactRecord, Event, PhaseExecutionRecord, RunRecord
from orchestrator.engine import events as ev
from orchestrator.engine import telemetry
from orchestrator.engine.approvals import Approvals
from orchestrator.engine.artifact_view import HandoffListing, PhaseArtifacts
from orchestrator.engine.deps import EngineDeps
from orchestrator.engine.dispatch import Dispatcher, DispatchOutcome
from orchestrator.engine.planner import TaskSlot, expand_slots, plan_hash, select_stories
from orchestrator.engine.qav import AWAITING_INPUT, Clarifier
from orchestrator.gates import ArtifactSet, evaluate_gate
from orchestrator.gates.artifacts import ArtifactRecord as GateArtifact

__all__ = ["PhaseOutcome", "PhaseRunner"]

log = logging.getLogger(__name__)


class PhaseOutcome(enum.Enum):
    """How a phase run ended, from the run driver's point of view."""

    SUCCEEDED = "succeeded"  #: gate passed (or warned), or waived
    NEEDS_WAIVER = "needs_waiver"  #: gate failed every attempt; an admin may waive
    FAILED = "failed"  #: failed with nothing to waive (never-waivable metric, dead task)
    BUDGET_EXHAUSTED = "budget_exhausted"  #: a task hit the budget; resumable
    AWAITING_INPUT = "awaiting_input"  #: a human must answer (blocking question or approval)
    STOPPED = "stopped"  #: the run left RUNNING (paused, cancelled) while the phase was open


#: artifact types that record the process (Q/A/V), not deliverables the gates score
PROCESS_ARTIFACT_PREFIX = "qav-"


def _gate_view(records: Sequence[ArtifactRecord]) -> ArtifactSet:
    return ArtifactSet(
        GateArtifact(r.type, r.content, r.sha256, r.id, r.phase)
        for r in records
        if not r.type.startswith(PROCESS_ARTIFACT_PREFIX)
    )


class PhaseRunner:
    """Drives one phase of one run until it succeeds, fails or must stop."""

    def __init__(
        self, deps: EngineDeps, run: RunRecord, spec: PhaseSpec, listing: HandoffListing | None = None
    ) -> None:
        self.deps = deps
        self.run = run
        self.spec = spec
        #: the drive's last handoff listing: a phase may start from it (see HandoffListing)
        self.listing = listing
        self.store = deps.store
        #: set by the last gate evaluation: a never-waivable metric failed
        self._unwaivable = False

    async def _open(self) -> PhaseExecutionRecord:
        """Create the phase execution, or pick up the one a crashed process left."""
        existing = {p.phase: p for p in await self.store.list_phase_executions(self.run.id)}
        pe = existing.get(self.spec.name)
        if pe is None:
            return await self.store.upsert_phase_execution(
                self.run.id,
                self.spec.name,
                expected=None,
                status=PhaseStatus.RUNNING,
                attempt=1,
                events=[Event(ev.PHASE_STARTED, {"attempt": 1}, phase=self.spec.name)],
            )
        if pe.status in (PhaseStatus.FAILED, PhaseStatus.AWAITING_INPUT):
            # a resumed run: a failed phase gets a fresh attempt budget only through a waiver,
            # so FAILED here means "retry the last attempt" after a budget raise or answer
            pe = await self.store.upsert_phase_execution(
                self.run.id,
                self.spec.name,
                expected=[pe.status],
                status=PhaseStatus.RUNNING,
                attempt=pe.attempt,
                plan_hash=pe.plan_hash,
                events=[Event(ev.CHECKPOINT_RESUMED, {"attempt": pe.attempt}, phase=self.spec.name)],
            )
        elif pe.status == PhaseStatus.RUNNING:
            await self.store.append_events(
                self.run.id, [Event(ev.CHECKPOINT_RESUMED, {"attempt": pe.attempt}, phase=self.spec.name)]
            )
        return pe

    async def run_phase(self) -> PhaseOutcome:
        """Run attempts until the gate passes or the attempts run out (traced and measured)."""
        return await telemetry.observed_phase(self.store, self.run.id, self.spec.name, self._run_attempts)

    async def _run_attempts(self) -> PhaseOutcome:
        pe = await self._open()
        if pe.status in (PhaseStatus.SUCCEEDED, PhaseStatus.WAIVED):
            return PhaseOutcome.SUCCEEDED
        attempt = pe.attempt
        artifacts = PhaseArtifacts(self.deps, self.run, self.spec, self.listing)
        while True:
            slots, rerun, feedback = await self._plan(attempt)
            with telemetry.attempt_span(self.run.id, self.spec.name, attempt):
                outcome = await Dispatcher(self.deps, self.run, self.spec, artifacts).dispatch(
                    slots, attempt=attempt, rerun=rerun, feedback=feedback
                )
            if outcome is not DispatchOutcome.DONE:
                return await self._stop_on(outcome, attempt)
            with telemetry.attempt_span(self.run.id, self.spec.name, attempt, stage="clarify"):
                clarified = await Clarifier(self.deps, self.run, self.spec, artifacts).clarify(attempt)
            if clarified == AWAITING_INPUT:
                return await self._await_input(attempt)
            if clarified is not DispatchOutcome.DONE:
                assert isinstance(clarified, DispatchOutcome)
                return await self._stop_on(clarified, attempt)
            records = await self.store.list_artifacts(self.run.id)
            artifacts.handed_off(records)
            decision, failing, findings = await self._handoff(records, attempt)
            if decision is not GateDecision.FAIL and self.run.policy is Policy.APPROVE_EACH_PHASE:
                verdict, note = await Approvals(self.deps, self.run, self.spec).verdict(attempt)
                if verdict == AWAITING_INPUT:
                    return await self._await_input(attempt)
                if verdict == "rejected":
                    decision, failing, findings = GateDecision.FAIL, set(self.spec.artifact_types), [note]
            if decision is not GateDecision.FAIL:
                await self._finish(
                    PhaseStatus.SUCCEEDED, attempt, ev.PHASE_COMPLETED, {"decision": decision.value}
                )
                return PhaseOutcome.SUCCEEDED
            if attempt >= self.spec.gate.max_attempts:
                return await self._exhausted(attempt, failing)
            attempt += 1
            await self.store.save_checkpoint(
                self.run.id,
                self.spec.name,
                attempt=attempt,
                state={
                    "stage": "rerun",
                    "rerun": sorted(self._rerun_keys(slots, failing)),
                    "feedback": findings,
                },
                events=[
                    Event(ev.CHECKPOINT_SAVED, {"attempt": attempt, "stage": "rerun"}, phase=self.spec.name)
                ],
            )
            await self.store.upsert_phase_execution(
                self.run.id,
                self.spec.name,
                expected=[PhaseStatus.RUNNING],
                status=PhaseStatus.RUNNING,
                attempt=attempt,
                plan_hash=pe.plan_hash,
                events=[Event(ev.PHASE_STARTED, {"attempt": attempt}, phase=self.spec.name)],
            )

    async def _plan(self, attempt: int) -> tuple[list[TaskSlot], set[str] | None, list[str]]:
        """Plan: the task slots, which of them re-run (None = all) and the gate feedback."""
        planned = self.deps.registry.plan(self.spec.name)
        stories: list[dict[str, Any]] = []
        if any(t.per_story for t in planned):
            us = await self.store.list_artifacts(self.run.id, type="user-stories")
            stories = select_stories(us[-1].content if us else None)
        slots = expand_slots(planned, stories)
        phash = plan_hash(self.spec, planned, self.spec.budget.tokens)
        if attempt == 1:
            cp = await self.store.latest_checkpoint(self.run.id, self.spec.name)
            if cp is None:
                await self.store.save_checkpoint(
                    self.run.id,
                    self.spec.name,
                    attempt=1,
                    state={"stage": "plan", "plan_hash": phash, "slots": [s.key for s in slots]},
                    events=[
                        Event(ev.CHECKPOINT_SAVED, {"attempt": 1, "stage": "plan"}, phase=self.spec.name)
                    ],
                )
            return slots, None, []
        cp = await self.store.latest_checkpoint(self.run.id, self.spec.name)
        state: Mapping[str, Any] = cp.state if cp is not None and cp.attempt == attempt else {}
        return slots, set(state.get("rerun", [s.key for s in slots])), list(state.get("feedback", []))

    def _rerun_keys(self, slots: Sequence[TaskSlot], failing_types: set[str]) -> set[str]:
        """Slots producing a failing artifact type, plus every in-phase slot after them."""
        keys = {s.key for s in slots if failing_types & set(s.task.produces)}
        changed = True
        while changed:
            changed = False
            for s in slots:
                if s.key not in keys and any(a in keys for a in s.after_keys()):
                    keys.add(s.key)
                    changed = True
        return keys or {s.key for s in slots}

    async def _handoff(
        self, records: Sequence[ArtifactRecord], attempt: int
    ) -> tuple[GateDecision, set[str], list[str]]:
        """Phase ready, guard + gate: record the evaluation; return decision, failing types, findings.

        An attempt is evaluated once: a phase resumed after waiting for a human (an
        approval) reuses the recorded evaluation of its attempt.
        """
        ready = Event(ev.PHASE_READY, {"attempt": attempt}, phase=self.spec.name)
        for g in await self.store.list_gate_evaluations(self.run.id, phase=self.spec.name):
            if g.attempt == attempt:
                await self.store.append_events(self.run.id, [ready])
                failing = {t for m in g.metrics if not m.get("passed") for t in m.get("inputs", [])}
                self._unwaivable = any(m.get("never_waivable") and not m.get("passed") for m in g.metrics)
                return g.decision, failing & set(self.spec.artifact_types), list(g.findings)
        mine = [r for r in records if r.phase == self.spec.name]
        produced: dict[str, list[dict[str, Any]]] = {}
        accepted: dict[str, list[dict[str, Any]]] = {}
        for r in records:
            (produced if r.phase == self.spec.name else accepted).setdefault(r.type, []).append(r.content)
        guard_findings = run_guards(self.deps.guards, Draft(self.spec, produced, accepted))
        blocking = [f for f in guard_findings if f.blocking]
        result = evaluate_gate(self.spec, _gate_view(records))
        decision = GateDecision.FAIL if blocking else result.decision
        findings = list(result.findings) + [f"guard {f.guard}: {f.message}" for f in blocking]
        failing_types = set(result.rerun_artifact_types(self.spec.artifact_types))
        failing_types |= {f.artifact_type for f in blocking if f.artifact_type}
        payload = {
            "attempt": attempt,
            "score": result.score,
            "decision": decision.value,
            "findings": findings,
            "artifacts": len(mine),
        }
        await self.store.record_gate_evaluation(
            self.run.id,
            self.spec.name,
            attempt=attempt,
            score=result.score,
            decision=decision,
            metrics=list(result.to_dict()["metrics"]),
            findings=findings,
            events=[
                ready,  # rides along with the evaluation: one write, same ledger order
                Event(
                    ev.GATE_FAILED if decision is GateDecision.FAIL else ev.GATE_PASSED,
                    payload,
                    phase=self.spec.name,
                ),
            ],
        )
        self._unwaivable = result.blocking_unwaivable
        telemetry.gate_evaluated(self.spec.name, decision.value, result.score)
        return decision, failing_types, findings

    async def _finish(self, status: PhaseStatus, attempt: int, event: str, payload: dict[str, Any]) -> None:
        await self.store.upsert_phase_execution(
            self.run.id,
            self.spec.name,
            expected=[PhaseStatus.RUNNING],
            status=status,
            attempt=attempt,
            events=[Event(event, {"attempt": attempt, **payload}, phase=self.spec.name)],
        )

    async def _exhausted(self, attempt: int, failing: set[str]) -> PhaseOutcome:
        """Out of attempts: wait for a waiver, or fail when a never-waivable metric failed."""
        await self._finish(
            PhaseStatus.FAILED, attempt, ev.PHASE_FAILED, {"failing_artifacts": sorted(failing)}
        )
        return PhaseOutcome.FAILED if self._unwaivable else PhaseOutcome.NEEDS_WAIVER

    async def _await_input(self, attempt: int) -> PhaseOutcome:
        await self.store.upsert_phase_execution(
            self.run.id,
            self.spec.name,
            expected=[PhaseStatus.RUNNING],
            status=PhaseStatus.AWAITING_INPUT,
            attempt=attempt,
            events=[
                Event(
                    ev.PHASE_PROGRESS,
                    {"attempt": attempt, "waiting_for": "human input"},
                    phase=self.spec.name,
                )
            ],
        )
        return PhaseOutcome.AWAITING_INPUT

    async def _stop_on(self, outcome: DispatchOutcome, attempt: int) -> PhaseOutcome:
        if outcome is DispatchOutcome.BUDGET_EXHAUSTED:
            return PhaseOutcome.BUDGET_EXHAUSTED
        if outcome is DispatchOutcome.TASK_DEAD:
            await self._finish(
                PhaseStatus.FAILED, attempt, ev.PHASE_FAILED, {"reason": "a task failed for good"}
            )
            return PhaseOutcome.FAILED
        run = await self.store.get_run(self.run.id)
        if run.status is RunStatus.CANCELLED:
            await self._finish(PhaseStatus.CANCELLED, attempt, ev.PHASE_FAILED, {"reason": "run cancelled"})
        return PhaseOutcome.STOPPED
