"""Contract: runs, guarded run transitions, phase executions, run leases."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from ideamine.enums import GateDecision, PhaseStatus, Policy, RunStatus
from ideamine.errors import Conflict, InvalidInput, NotFound, StaleAttempt
from ideamine.ids import new_id
from ideamine.store.base import RunStore
from ideamine.store.records import BudgetLimits, Event
from tests.store.conftest import make_run, new_run

_R = RunStatus


async def test_create_and_get_run_round_trips_every_field(store: RunStore) -> None:
    run = await make_run(store)
    assert run.status is _R.PENDING and run.policy is Policy.AUTONOMOUS
    assert run.tenant == "acme" and run.title == "Pet-sitting marketplace"
    assert run.idea["constraints"] == {"budget_usd": 5000}
    assert run.phases == ("intake", "ideation")
    assert run.budget == BudgetLimits(tokens=100_000, usd=10.0, wall_clock_seconds=3600.0)
    assert run.labels == {"team": "growth"} and run.created_by == "user-1"
    assert run.created_at.tzinfo is not None and run.finished_at is None
    assert await store.get_run(run.id) == run
    assert await store.get_run(run.id, tenant="acme") == run
    [event] = await store.list_events(run.id)
    assert (event.seq, event.type) == (1, "run.created")
    [scope] = await store.get_budget_scopes(run.id)
    assert (scope.kind, scope.name, scope.limits) == ("run", "", run.budget)


async def test_get_run_of_another_tenant_is_not_found(store: RunStore) -> None:
    run = await make_run(store, "acme")
    with pytest.raises(NotFound):
        await store.get_run(run.id, tenant="globex")
    with pytest.raises(NotFound):
        await store.get_run(new_id())


async def test_list_runs_pages_newest_first_within_tenant(store: RunStore) -> None:
    ids = [(await make_run(store, "acme")).id for _ in range(5)]
    await make_run(store, "globex")
    seen: list[str] = []
    token = ""
    for _ in range(10):
        page = await store.list_runs(tenant="acme", page_size=2, page_token=token)
        assert len(page.items) <= 2
        seen += [r.id for r in page.items]
        token = page.next_token
        if not token:
            break
    assert seen == list(reversed(ids))
    everyone = await store.list_runs(page_size=50)
    assert len(everyone.items) == 6 and everyone.next_token == ""


async def test_list_runs_filters_by_status(store: RunStore) -> None:
    a = await make_run(store)
    b = await make_run(store)
    await store.transition_run(b.id, expected=[_R.PENDING], new=_R.RUNNING)
    running = await store.list_runs(statuses=[_R.RUNNING])
    assert [r.id for r in running.items] == [b.id]
    pending = await store.list_runs(statuses=[_R.PENDING, _R.PAUSED])
    assert [r.id for r in pending.items] == [a.id]


async def test_list_runs_rejects_a_forged_page_token(store: RunStore) -> None:
    with pytest.raises(InvalidInput):
        await store.list_runs(page_token="not a token!")


async def test_transition_run_writes_status_reason_and_events(store: RunStore) -> None:
    run = await make_run(store)
    running = await store.transition_run(
        run.id, expected=[_R.PENDING], new=_R.RUNNING, events=[Event("run.started")]
    )
    assert running.status is _R.RUNNING and running.finished_at is None
    done = await store.transition_run(
        run.id, expected=[_R.RUNNING], new=_R.SUCCEEDED, reason="all phases passed"
    )
    assert done.status is _R.SUCCEEDED and done.status_reason == "all phases passed"
    assert done.finished_at is not None
    assert [e.type for e in await store.list_events(run.id)] == ["run.created", "run.started"]


@pytest.mark.parametrize(
    ("expected", "new"),
    [
        ([_R.RUNNING], _R.CANCELLED),  # the run is PENDING: wrong expected status
        ([_R.PENDING], _R.SUCCEEDED),  # PENDING → SUCCEEDED is not in the table
    ],
)
async def test_refused_run_transition_writes_nothing(
    store: RunStore, expected: list[RunStatus], new: RunStatus
) -> None:
    run = await make_run(store)
    with pytest.raises(Conflict) as info:
        await store.transition_run(run.id, expected=expected, new=new, events=[Event("never.written")])
    assert not isinstance(info.value, StaleAttempt)
    assert await store.get_run(run.id) == run
    assert [e.type for e in await store.list_events(run.id)] == ["run.created"]


async def test_transition_run_of_missing_run_is_not_found(store: RunStore) -> None:
    with pytest.raises(NotFound):
        await store.transition_run(new_id(), expected=[_R.PENDING], new=_R.RUNNING)


async def test_transition_run_fenced_by_the_lease(store: RunStore) -> None:
    run = await make_run(store)
    lease = await store.acquire_lease(run.id, owner="orch-a", ttl_seconds=30)
    assert lease is not None
    with pytest.raises(StaleAttempt):
        await store.transition_run(
            run.id, expected=[_R.PENDING], new=_R.RUNNING, fence=("orch-b", lease.fence)
        )
    with pytest.raises(StaleAttempt):
        await store.transition_run(
            run.id, expected=[_R.PENDING], new=_R.RUNNING, fence=("orch-a", lease.fence + 1)
        )
    assert (await store.get_run(run.id)).status is _R.PENDING
    moved = await store.transition_run(
        run.id, expected=[_R.PENDING], new=_R.RUNNING, fence=("orch-a", lease.fence)
    )
    assert moved.status is _R.RUNNING


async def test_update_run_budget_changes_run_and_run_scope(store: RunStore) -> None:
    run = await make_run(store)
    raised = BudgetLimits(tokens=500_000, usd=50.0, wall_clock_seconds=None)
    updated = await store.update_run_budget(run.id, raised, events=[Event("budget.raised")])
    assert updated.budget == raised
    [scope] = await store.get_budget_scopes(run.id)
    assert scope.limits == raised
    assert (await store.list_events(run.id))[-1].type == "budget.raised"


# ------------------------------------------------------------------ phases
async def test_phase_execution_create_update_and_list(store: RunStore) -> None:
    run = await make_run(store)
    created = await store.upsert_phase_execution(
        run.id,
        "intake",
        expected=None,
        status=PhaseStatus.PENDING,
        attempt=1,
        events=[Event("phase.planned")],
    )
    assert created.status is PhaseStatus.PENDING and created.started_at is None
    running = await store.upsert_phase_execution(
        run.id,
        "intake",
        expected=[PhaseStatus.PENDING],
        status=PhaseStatus.RUNNING,
        attempt=1,
        plan_hash="abc",
    )
    assert running.started_at is not None and running.plan_hash == "abc"
    done = await store.upsert_phase_execution(
        run.id,
        "intake",
        expected=[PhaseStatus.RUNNING],
        status=PhaseStatus.SUCCEEDED,
        attempt=1,
        score=92.5,
        decision=GateDecision.PASS,
    )
    assert (done.score, done.decision, done.plan_hash) == (92.5, GateDecision.PASS, "abc")
    assert done.finished_at is not None
    await store.upsert_phase_execution(
        run.id, "ideation", expected=None, status=PhaseStatus.PENDING, attempt=1
    )
    assert [p.phase for p in await store.list_phase_executions(run.id)] == ["intake", "ideation"]
    assert await store.get_phase_execution(run.id, "intake") == done


async def test_phase_execution_guards(store: RunStore) -> None:
    run = await make_run(store)
    await store.upsert_phase_execution(run.id, "intake", expected=None, status=PhaseStatus.RUNNING, attempt=1)
    with pytest.raises(Conflict):  # exists already
        await store.upsert_phase_execution(
            run.id, "intake", expected=None, status=PhaseStatus.PENDING, attempt=1
        )
    with pytest.raises(Conflict):  # wrong expected status
        await store.upsert_phase_execution(
            run.id, "intake", expected=[PhaseStatus.PENDING], status=PhaseStatus.RUNNING, attempt=1
        )
    with pytest.raises(Conflict):  # RUNNING → WAIVED is not in the table
        await store.upsert_phase_execution(
            run.id, "intake", expected=[PhaseStatus.RUNNING], status=PhaseStatus.WAIVED, attempt=1
        )
    with pytest.raises(NotFound):
        await store.get_phase_execution(run.id, "prd")
    # a field update without a transition (next gate attempt) is allowed
    again = await store.upsert_phase_execution(
        run.id, "intake", expected=[PhaseStatus.RUNNING], status=PhaseStatus.RUNNING, attempt=2
    )
    assert again.attempt == 2


# ------------------------------------------------------------------ leases
async def test_lease_acquire_renew_refuse_and_takeover(store: RunStore) -> None:
    run = await make_run(store)
    first = await store.acquire_lease(run.id, owner="orch-a", ttl_seconds=60)
    assert first is not None and first.fence == 1 and first.owner == "orch-a"
    assert await store.acquire_lease(run.id, owner="orch-b", ttl_seconds=60) is None
    renewed = await store.acquire_lease(run.id, owner="orch-a", ttl_seconds=120)
    assert renewed is not None and renewed.fence == 1 and renewed.expires_at > first.expires_at
    assert run.id not in await store.runs_needing_owner()
    # a lease of zero seconds is expired as soon as it is written: anyone may take over
    await store.acquire_lease(run.id, owner="orch-a", ttl_seconds=0)
    assert run.id in await store.runs_needing_owner()
    taken = await store.acquire_lease(run.id, owner="orch-b", ttl_seconds=60)
    assert taken is not None and taken.owner == "orch-b" and taken.fence == 2


async def test_released_lease_is_taken_with_a_higher_fence(store: RunStore) -> None:
    run = await make_run(store)
    await store.acquire_lease(run.id, owner="orch-a", ttl_seconds=60)
    await store.release_lease(run.id, owner="orch-b")  # not held by b: no-op
    assert await store.acquire_lease(run.id, owner="orch-b", ttl_seconds=60) is None
    await store.release_lease(run.id, owner="orch-a")
    taken = await store.acquire_lease(run.id, owner="orch-b", ttl_seconds=60)
    assert taken is not None and taken.fence == 2


async def test_concurrent_lease_acquisition_has_one_winner(backend) -> None:  # type: ignore[no-untyped-def]
    store, other = backend.store, await backend.open_another()
    run = await make_run(store)
    results = await asyncio.gather(
        *(
            s.acquire_lease(run.id, owner=f"orch-{i}", ttl_seconds=60)
            for i, s in enumerate([store, other] * 5)
        )
    )
    winners = [r for r in results if r is not None]
    assert len(winners) == 1 and winners[0].fence == 1


async def test_runs_needing_owner_skips_terminal_runs(store: RunStore) -> None:
    live = await make_run(store)
    dead = await make_run(store)
    await store.transition_run(dead.id, expected=[_R.PENDING], new=_R.CANCELLED)
    needing = await store.runs_needing_owner()
    assert live.id in needing and dead.id not in needing


async def test_create_run_of_each_policy(store: RunStore) -> None:
    for policy in Policy:
        run = await store.create_run(dataclasses.replace(new_run(), policy=policy))
        assert (await store.get_run(run.id)).policy is policy


async def test_renew_leases_extends_what_the_owner_still_holds(store: RunStore) -> None:
    mine, lapsed, taken, free = [await make_run(store) for _ in range(4)]
    for run in (mine, lapsed, taken):
        await store.acquire_lease(run.id, owner="orch-a", ttl_seconds=60)
    await store.acquire_lease(lapsed.id, owner="orch-a", ttl_seconds=0)  # expired, nobody took it
    await store.acquire_lease(taken.id, owner="orch-a", ttl_seconds=0)
    stolen = await store.acquire_lease(taken.id, owner="orch-b", ttl_seconds=60)
    assert stolen is not None
    before = datetime.now(UTC)
    renewed = await store.renew_leases(
        [mine.id, lapsed.id, taken.id, free.id, mine.id, "not-an-id"], owner="orch-a", ttl_seconds=120
    )
    assert set(renewed) == {mine.id, lapsed.id}
    for run in (mine, lapsed):
        lease = renewed[run.id]
        assert (lease.run_id, lease.owner, lease.fence) == (run.id, "orch-a", 1)
        assert lease.expires_at > before + timedelta(seconds=100)
        assert await store.acquire_lease(run.id, owner="orch-b", ttl_seconds=60) is None  # still a's
    assert await store.acquire_lease(taken.id, owner="orch-a", ttl_seconds=60) is None  # b's, untouched
    assert await store.renew_leases([], owner="orch-a", ttl_seconds=60) == {}
