"""GateService.WaiveGate with ``expires_at`` against a real orchestrator and PostgreSQL.

The server never drives runs here (``max_active_runs: 0``), so each test puts its run in
NEEDS_WAIVER through the store; what happens when a drive meets an expired waiver is
tested on the engine (tests/e2e/test_waiver_expiry.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf import timestamp_pb2

from ideamine._proto.ideamine.v1 import common_pb2, gate_pb2
from ideamine.enums import PhaseStatus, RunStatus
from tests.orchestrator.conftest import Stack
from tests.orchestrator.support import violations
from tests.orchestrator.test_services import _failed_gate as failed_gate

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.postgres, pytest.mark.redis]

#: the API only: this server never adopts runs, so tests set their states through the store
SERVER_OVERRIDES = {"max_active_runs": 0}


def _ts(when: datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(when)
    return ts


async def _needs_waiver(stack: Stack) -> str:
    """A run whose intake gate failed every attempt (waivable), waiting in NEEDS_WAIVER."""
    return (await failed_gate(stack, unwaivable=False)).run_id


def _waive(run_id: str, expires_at: datetime | None = None) -> gate_pb2.WaiveGateRequest:
    request = gate_pb2.WaiveGateRequest(run_id=run_id, phase=common_pb2.PHASE_INTAKE, reason="pilot only")
    if expires_at is not None:
        request.expires_at.CopyFrom(_ts(expires_at))
    return request


async def test_an_expiry_in_the_past_is_invalid_argument_naming_the_field(stack: Stack) -> None:
    run_id = await _needs_waiver(stack)
    for past in (datetime.now(UTC) - timedelta(minutes=5), datetime(1970, 1, 1, tzinfo=UTC)):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stack.gates.WaiveGate(_waive(run_id, past), metadata=stack.md("admin"))
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert "must be in the future" in violations(caught.value)["expires_at"]
    assert not await stack.store.list_waivers(run_id)
    assert (await stack.store.get_run(run_id)).status is RunStatus.NEEDS_WAIVER


async def test_a_waiver_with_an_expiry_is_stored_and_shown(stack: Stack) -> None:
    run_id = await _needs_waiver(stack)
    until = (datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0)
    waived = await stack.gates.WaiveGate(_waive(run_id, until), metadata=stack.md("admin"))
    shown = waived.gate_evaluation.waiver
    assert shown.expires_at.ToDatetime(tzinfo=UTC) == until and not shown.expired
    (stored,) = await stack.store.list_waivers(run_id)
    assert stored.expires_at == until
    assert (await stack.store.get_phase_execution(run_id, "intake")).status is PhaseStatus.WAIVED
    assert (await stack.store.get_run(run_id)).status is RunStatus.RUNNING
    # still valid: nothing to waive again
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.gates.WaiveGate(_waive(run_id), metadata=stack.md("admin"))
    assert caught.value.code() is grpc.StatusCode.FAILED_PRECONDITION


async def test_a_lapsed_waiver_is_shown_expired_and_can_be_renewed(stack: Stack) -> None:
    run_id = await _needs_waiver(stack)
    await stack.gates.WaiveGate(
        _waive(run_id, datetime.now(UTC) + timedelta(days=1)), metadata=stack.md("admin")
    )
    # what a drive after the expiry leaves behind: the phase WAIVED, a lapsed waiver, the run waiting
    lapsed = await stack.store.add_waiver(
        run_id,
        "intake",
        granted_by="user:alice",
        justification="short pilot",
        expires_at=datetime.now(UTC) - timedelta(seconds=1),
    )
    await stack.store.transition_run(run_id, expected=[RunStatus.RUNNING], new=RunStatus.NEEDS_WAIVER)
    listed = await stack.gates.ListGateEvaluations(
        gate_pb2.ListGateEvaluationsRequest(run_id=run_id), metadata=stack.md("viewer")
    )
    (g,) = listed.gate_evaluations
    assert g.waiver.reason == lapsed.justification and g.waiver.expired

    renewed = await stack.gates.WaiveGate(_waive(run_id), metadata=stack.md("admin"))
    assert renewed.gate_evaluation.waiver.reason == "pilot only"
    assert not renewed.gate_evaluation.waiver.HasField("expires_at")
    assert len(await stack.store.list_waivers(run_id)) == 3
    assert (await stack.store.get_phase_execution(run_id, "intake")).status is PhaseStatus.WAIVED
    assert (await stack.store.get_run(run_id)).status is RunStatus.RUNNING
