"""GateService: gate evaluations of a run, and admins' waivers of failed gates.

A waiver needs the admin role (checked by the auth interceptor), a justification, a phase
whose latest evaluation FAILED and whose execution is FAILED (or WAIVED by a waiver that has
since expired) — and it is refused outright when any never-waivable metric (critical
security findings) failed in that evaluation. An optional ``expires_at`` (in the future)
bounds it: ``orchestrator.engine.waivers`` says where and when an expired waiver stops
letting the gate pass. A run that was waiting for the waiver continues.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import grpc

from ideamine._proto.ideamine.v1 import gate_pb2, gate_pb2_grpc
from ideamine.convert import gate_evaluation_to_proto, optional_phase, phase_from_proto
from ideamine.enums import GateDecision, PhaseStatus, RunStatus
from ideamine.errors import Conflict, InvalidInput
from ideamine.store.records import Event, GateEvaluationRecord, WaiverRecord
from orchestrator.auth import current_principal
from orchestrator.engine import events as ev
from orchestrator.engine.waivers import expired, latest_waiver
from orchestrator.servicers._common import App, paginate, require, resume_run, tenant_run

__all__ = ["GateServicer", "unwaivable_metrics"]


def unwaivable_metrics(evaluation: GateEvaluationRecord) -> list[str]:
    """Names of the never-waivable metrics that failed in ``evaluation``."""
    return [
        str(m.get("metric", m.get("name", "?")))
        for m in evaluation.metrics
        if m.get("never_waivable") and not m.get("passed")
    ]


def _waiver_of(g: GateEvaluationRecord, waivers: Sequence[WaiverRecord]) -> WaiverRecord | None:
    """The waiver deciding a failed evaluation: the latest of its phase given after it."""
    if g.decision is not GateDecision.FAIL:
        return None
    return latest_waiver([w for w in waivers if w.created_at >= g.created_at], g.phase)


def _expiry(request: gate_pb2.WaiveGateRequest) -> datetime | None:
    """``expires_at`` as an aware datetime; None when unset.

    Raises:
        InvalidInput: not a valid timestamp, or not in the future.
    """
    if not request.HasField("expires_at"):
        return None
    try:
        when: datetime = request.expires_at.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError) as exc:
        raise InvalidInput(f"expires_at is not a valid timestamp: {exc}", field="expires_at") from None
    if when <= datetime.now(UTC):
        raise InvalidInput(
            f"expires_at must be in the future, not {when.isoformat()} (leave it unset for no expiry)",
            field="expires_at",
        )
    return when


def _lapsed(waiver: WaiverRecord | None) -> bool:
    return waiver is not None and expired(waiver)


class GateServicer(gate_pb2_grpc.GateServiceServicer):  # type: ignore[misc]
    """Gate evaluations and waivers of the caller's runs."""

    def __init__(self, app: App) -> None:
        self.app = app

    def _message(self, g: GateEvaluationRecord, waivers: Sequence[WaiverRecord]) -> gate_pb2.GateEvaluation:
        min_score = self.app.catalogue.phase(g.phase).gate.min_score
        return gate_evaluation_to_proto(g, min_score=min_score, waiver=_waiver_of(g, waivers))

    async def ListGateEvaluations(  # noqa: N802
        self, request: gate_pb2.ListGateEvaluationsRequest, context: grpc.aio.ServicerContext
    ) -> gate_pb2.ListGateEvaluationsResponse:
        """Evaluations oldest first, optionally of one phase, with their waivers."""
        run = await tenant_run(self.app, request.run_id)
        evaluations, waivers = await asyncio.gather(
            self.app.store.list_gate_evaluations(run.id, phase=optional_phase(request.phase)),
            self.app.store.list_waivers(run.id),
        )
        page, token = paginate(evaluations, request.page_size, request.page_token)
        return gate_pb2.ListGateEvaluationsResponse(
            gate_evaluations=[self._message(g, waivers) for g in page], next_page_token=token
        )

    async def WaiveGate(  # noqa: N802
        self, request: gate_pb2.WaiveGateRequest, context: grpc.aio.ServicerContext
    ) -> gate_pb2.WaiveGateResponse:
        """Waive the phase's latest failed evaluation and let a waiting run continue."""
        reason = require(request.reason, "reason", max_chars=2000)
        expires_at = _expiry(request)
        run = await tenant_run(self.app, request.run_id)
        phase = phase_from_proto(request.phase)
        evaluations = await self.app.store.list_gate_evaluations(run.id, phase=phase)
        if not evaluations or evaluations[-1].decision is not GateDecision.FAIL:
            raise Conflict(f"the {phase} gate of run {run.id} has no failed evaluation to waive", phase=phase)
        latest = evaluations[-1]
        blocked = unwaivable_metrics(latest)
        if blocked:
            raise Conflict(
                f"the {phase} gate failed never-waivable metrics ({', '.join(blocked)}); it cannot be waived",
                phase=phase,
            )
        pe = await self.app.store.get_phase_execution(run.id, phase)
        waivers = await self.app.store.list_waivers(run.id)
        lapsed = pe.status is PhaseStatus.WAIVED and _lapsed(latest_waiver(waivers, phase))
        if pe.status is not PhaseStatus.FAILED and not lapsed:
            raise Conflict(f"phase {phase} is {pe.status.value}, not FAILED; nothing to waive", phase=phase)
        who = f"user:{current_principal().subject}"
        payload = {
            "by": who,
            "reason": reason,
            "attempt": latest.attempt,
            "expires_at": expires_at.isoformat() if expires_at else None,
        }
        event = Event(ev.PHASE_WAIVED, payload, phase=phase)
        waiver = await self.app.store.add_waiver(
            run.id,
            phase,
            granted_by=who,
            justification=reason,
            expires_at=expires_at,
            events=[event] if lapsed else (),  # the phase stays WAIVED: only the waiver is new
        )
        if not lapsed:
            await self.app.store.upsert_phase_execution(
                run.id,
                phase,
                expected=[PhaseStatus.FAILED],
                status=PhaseStatus.WAIVED,
                attempt=pe.attempt,
                events=[event],
            )
        if run.status is RunStatus.NEEDS_WAIVER:
            await resume_run(self.app, run, allowed=[RunStatus.NEEDS_WAIVER], payload={"waived": phase})
        return gate_pb2.WaiveGateResponse(gate_evaluation=self._message(latest, [waiver]))
