"""RunService over a real server: create, validation, tenancy, paging, steering, events."""

from __future__ import annotations

import grpc
import pytest

from ideamine._proto.ideamine.v1 import common_pb2, run_pb2
from ideamine.enums import RunStatus
from ideamine.store.records import Event
from tests.orchestrator.conftest import Stack
from tests.orchestrator.support import violations

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.postgres, pytest.mark.redis]

#: the API only: this server never adopts runs, so tests set their states through the store
SERVER_OVERRIDES = {"max_active_runs": 0}

IDEA = "A marketplace where neighbours lend each other garden tools, with deposits and reviews"


def _run(**kw: object) -> run_pb2.Run:
    fields: dict[str, object] = {"idea": IDEA, "requested_phases": [common_pb2.PHASE_INTAKE]}
    fields.update(kw)
    return run_pb2.Run(**fields)  # type: ignore[arg-type]


async def _create(stack: Stack, tenant: str = "acme", **kw: object) -> run_pb2.Run:
    response = await stack.runs.CreateRun(
        run_pb2.CreateRunRequest(run=_run(**kw)), metadata=stack.md("operator", tenant=tenant)
    )
    run: run_pb2.Run = response.run
    return run


async def test_create_run_validates_and_returns_the_run_for_the_callers_tenant(stack: Stack) -> None:
    run = await _create(
        stack,
        title="Tool library",
        constraints=run_pb2.Constraints(budget_usd=2000, compliance=["GDPR"], target_users=["renters"]),
        budget=common_pb2.Budget(max_usd=3, max_tokens=500_000, max_wall_clock_seconds=1800),
        policy=common_pb2.POLICY_ASK_ON_BLOCKING,
        requested_phases=[common_pb2.PHASE_IDEATION],
    )
    assert run.id and run.tenant == "acme" and run.created_by == "alice"
    assert run.title == "Tool library" and run.idea == IDEA
    assert list(run.requested_phases) == [common_pb2.PHASE_IDEATION]
    assert list(run.planned_phases) == [common_pb2.PHASE_INTAKE, common_pb2.PHASE_IDEATION]
    assert run.budget.max_tokens == 500_000 and run.budget.max_wall_clock_seconds == 1800
    assert run.policy == common_pb2.POLICY_ASK_ON_BLOCKING
    assert list(run.constraints.compliance) == ["GDPR"]
    stored = await stack.store.get_run(run.id)
    assert stored.tenant == "acme" and stored.idea["constraints"]["budget_usd"] == 2000


async def test_create_run_reports_every_bad_field(stack: Stack) -> None:
    request = run_pb2.CreateRunRequest(
        run=run_pb2.Run(
            idea="short",
            title="x" * 201,
            requested_phases=[common_pb2.PHASE_INTAKE, 77],  # type: ignore[list-item]
            budget=common_pb2.Budget(max_usd=-1, max_tokens=-5),
            policy=42,  # type: ignore[arg-type]
        )
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.runs.CreateRun(request, metadata=stack.md("operator"))
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    found = violations(caught.value)
    assert {
        "run.idea",
        "run.title",
        "run.requested_phases[1]",
        "run.budget.max_usd",
        "run.budget.max_tokens",
        "run.policy",
    } <= set(found), found
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.runs.CreateRun(run_pb2.CreateRunRequest(), metadata=stack.md("operator"))
    assert violations(caught.value) == {"run": "run is required"}


async def test_create_run_is_idempotent_per_request_id(stack: Stack) -> None:
    request = run_pb2.CreateRunRequest(run=_run(), request_id="req-tool-library-1")
    first = await stack.runs.CreateRun(request, metadata=stack.md("operator"))
    again = await stack.runs.CreateRun(request, metadata=stack.md("operator"))
    assert again.run.id == first.run.id


async def test_get_run_of_another_tenant_is_not_found(stack: Stack) -> None:
    run = await _create(stack, tenant="globex")
    mine = await stack.runs.GetRun(
        run_pb2.GetRunRequest(run_id=run.id), metadata=stack.md("viewer", tenant="globex")
    )
    assert mine.run.id == run.id
    for run_id in (run.id, "not-a-uuid", "01900000-0000-7000-8000-000000000000"):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stack.runs.GetRun(run_pb2.GetRunRequest(run_id=run_id), metadata=stack.md("viewer"))
        assert caught.value.code() is grpc.StatusCode.NOT_FOUND
        assert "globex" not in (caught.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.runs.GetRun(run_pb2.GetRunRequest(), metadata=stack.md("viewer"))
    assert violations(caught.value) == {"run_id": "run_id is required"}


async def test_list_runs_pages_newest_first_within_the_tenant(stack: Stack) -> None:
    made = [(await _create(stack, tenant="initech")).id for _ in range(5)]
    seen: list[str] = []
    token = ""
    while True:
        page = await stack.runs.ListRuns(
            run_pb2.ListRunsRequest(page_size=2, page_token=token),
            metadata=stack.md("viewer", tenant="initech"),
        )
        assert len(page.runs) <= 2
        seen += [r.id for r in page.runs]
        token = page.next_page_token
        if not token:
            break
    assert seen == list(reversed(made))
    assert all(r.tenant == "initech" for r in page.runs)
    for bad in (run_pb2.ListRunsRequest(page_size=-1), run_pb2.ListRunsRequest(page_token="garbage!")):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stack.runs.ListRuns(bad, metadata=stack.md("viewer"))
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.runs.ListRuns(
            run_pb2.ListRunsRequest(statuses=[0]),  # type: ignore[list-item]
            metadata=stack.md("viewer"),
        )
    assert "statuses[0]" in violations(caught.value)


async def test_list_runs_filters_by_status(stack: Stack) -> None:
    run = await _create(stack, tenant="umbrella")
    await stack.runs.CancelRun(
        run_pb2.CancelRunRequest(run_id=run.id), metadata=stack.md("operator", tenant="umbrella")
    )
    page = await stack.runs.ListRuns(
        run_pb2.ListRunsRequest(statuses=[common_pb2.RUN_STATUS_CANCELLED]),
        metadata=stack.md("viewer", tenant="umbrella"),
    )
    assert [r.id for r in page.runs] == [run.id]


async def test_cancel_pause_resume_are_guarded_transitions(stack: Stack) -> None:
    run = await _create(stack)
    md = stack.md("operator")
    with pytest.raises(grpc.aio.AioRpcError) as caught:  # PENDING cannot be paused
        await stack.runs.PauseRun(run_pb2.PauseRunRequest(run_id=run.id), metadata=md)
    assert caught.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    await stack.store.transition_run(run.id, expected=[RunStatus.PENDING], new=RunStatus.RUNNING)
    paused = await stack.runs.PauseRun(run_pb2.PauseRunRequest(run_id=run.id, reason="lunch"), metadata=md)
    assert paused.run.status == common_pb2.RUN_STATUS_PAUSED
    resumed = await stack.runs.ResumeRun(run_pb2.ResumeRunRequest(run_id=run.id), metadata=md)
    assert resumed.run.status == common_pb2.RUN_STATUS_RUNNING
    with pytest.raises(grpc.aio.AioRpcError) as caught:  # RUNNING is not resumable
        await stack.runs.ResumeRun(run_pb2.ResumeRunRequest(run_id=run.id), metadata=md)
    assert caught.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    cancelled = await stack.runs.CancelRun(run_pb2.CancelRunRequest(run_id=run.id, reason="dup"), metadata=md)
    assert cancelled.run.status == common_pb2.RUN_STATUS_CANCELLED
    for call, request in (
        (stack.runs.CancelRun, run_pb2.CancelRunRequest(run_id=run.id)),
        (stack.runs.PauseRun, run_pb2.PauseRunRequest(run_id=run.id)),
        (stack.runs.ResumeRun, run_pb2.ResumeRunRequest(run_id=run.id)),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call(request, metadata=md)
        assert caught.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    types = [e.type for e in await stack.store.list_events(run.id)]
    assert ["run.paused", "run.resumed", "run.cancelled"] == [
        t for t in types if t.startswith("run.") and t != "run.created"
    ]


async def test_resume_of_a_run_waiting_for_a_waiver_points_to_the_waiver(stack: Stack) -> None:
    run = await _create(stack)
    await stack.store.transition_run(run.id, expected=[RunStatus.PENDING], new=RunStatus.RUNNING)
    await stack.store.transition_run(run.id, expected=[RunStatus.RUNNING], new=RunStatus.NEEDS_WAIVER)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.runs.ResumeRun(run_pb2.ResumeRunRequest(run_id=run.id), metadata=stack.md("operator"))
    assert caught.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "WaiveGate" in (caught.value.details() or "")


async def test_list_run_events_pages_by_sequence(stack: Stack) -> None:
    run = await _create(stack)
    await stack.store.append_events(run.id, [Event("test.tick", {"i": i}) for i in range(7)])
    seqs: list[int] = []
    token = ""
    while True:
        page = await stack.runs.ListRunEvents(
            run_pb2.ListRunEventsRequest(run_id=run.id, page_size=3, page_token=token),
            metadata=stack.md("viewer"),
        )
        seqs += [e.seq for e in page.events]
        token = page.next_page_token
        if not token:
            break
    assert seqs == list(range(1, 9))
    tail = await stack.runs.ListRunEvents(
        run_pb2.ListRunEventsRequest(run_id=run.id, after_seq=6), metadata=stack.md("viewer")
    )
    assert [e.seq for e in tail.events] == [7, 8] and tail.events[-1].payload["i"] == 6
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.runs.ListRunEvents(
            run_pb2.ListRunEventsRequest(run_id=run.id, after_seq=-1), metadata=stack.md("viewer")
        )
    assert violations(caught.value) == {"after_seq": "after_seq must not be negative"}


async def test_watch_run_streams_live_events_and_ends_with_the_run(stack: Stack) -> None:
    run = await _create(stack)
    stream = stack.runs.WatchRun(run_pb2.WatchRunRequest(run_id=run.id), metadata=stack.md("viewer"))
    first = await stream.read()
    assert first.event.seq == 1 and first.event.type == "run.created"
    await stack.store.append_events(run.id, [Event("test.live", {"n": 1})])
    live = await stream.read()
    assert live.event.type == "test.live"
    await stack.runs.CancelRun(run_pb2.CancelRunRequest(run_id=run.id), metadata=stack.md("operator"))
    rest: list[str] = []
    while (message := await stream.read()) is not grpc.aio.EOF:
        rest.append(message.event.type)
    assert "run.cancelled" in rest
    # resumable: a reconnect after seq 1 gets exactly the rest, then the stream ends at once
    again = stack.runs.WatchRun(
        run_pb2.WatchRunRequest(run_id=run.id, after_seq=1), metadata=stack.md("viewer")
    )
    resumed = [m.event async for m in again]
    assert [e.seq for e in resumed] == list(range(2, 2 + len(resumed)))
    assert [e.type for e in resumed] == ["test.live", *rest]


async def test_watch_run_refuses_bad_input(stack: Stack) -> None:
    run = await _create(stack)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in stack.runs.WatchRun(
            run_pb2.WatchRunRequest(run_id=run.id, after_seq=-3), metadata=stack.md("viewer")
        ):
            pass
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in stack.runs.WatchRun(
            run_pb2.WatchRunRequest(run_id=run.id), metadata=stack.md("viewer", tenant="other")
        ):
            pass
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND
