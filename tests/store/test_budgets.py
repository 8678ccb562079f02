"""Contract: budget scopes, atomic reservations, settlement, thresholds recorded once."""

from __future__ import annotations

import asyncio

import pytest

from ideamine.errors import BudgetExceeded, Conflict, NotFound
from ideamine.ids import new_id
from ideamine.store.base import RunStore
from ideamine.store.records import BudgetLimits, Event, Reservation
from tests.store.conftest import Backend, make_call, make_run


async def run_scope_id(store: RunStore, **limits: int | float | None) -> tuple[str, str]:
    run = await make_run(store, **limits)  # type: ignore[arg-type]
    [scope] = await store.get_budget_scopes(run.id)
    return run.id, scope.id


async def test_ensure_budget_scope_is_idempotent(store: RunStore) -> None:
    run_id, root = await run_scope_id(store)
    limits = BudgetLimits(tokens=1000, usd=1.0)
    phase = await store.ensure_budget_scope(
        run_id, kind="phase", name="intake", limits=limits, parent_id=root
    )
    again = await store.ensure_budget_scope(
        run_id, kind="phase", name="intake", limits=BudgetLimits(tokens=5), parent_id=root
    )
    assert again == phase and phase.limits == limits and phase.parent_id == root
    assert (phase.reserved_tokens, phase.used_tokens, phase.thresholds_crossed) == (0, 0, ())
    assert [s.kind for s in await store.get_budget_scopes(run_id)] == ["run", "phase"]
    with pytest.raises(NotFound):
        await store.reserve(new_id(), tokens=1, usd=0.0)


async def test_fifty_concurrent_reservations_never_overshoot(backend: Backend) -> None:
    store, other = backend.store, await backend.open_another()
    run_id, root = await run_scope_id(store, tokens=100_000, usd=None)
    phase = await store.ensure_budget_scope(
        run_id, kind="phase", name="prd", limits=BudgetLimits(tokens=1000), parent_id=root
    )

    async def attempt(s: RunStore) -> Reservation | None:
        try:
            return await s.reserve(phase.id, tokens=70, usd=0.0)
        except BudgetExceeded:
            return None

    results = await asyncio.gather(*(attempt(s) for s in [store, other] * 25))
    held = [r for r in results if r is not None]
    assert len(held) == 1000 // 70
    scopes = {s.id: s for s in await store.get_budget_scopes(run_id)}
    assert scopes[phase.id].reserved_tokens == 70 * len(held) <= 1000
    assert scopes[root].reserved_tokens == 70 * len(held)
    assert all(r.scope_ids == (phase.id, root) for r in held)


async def test_reservation_counts_against_ancestors(store: RunStore) -> None:
    run_id, root = await run_scope_id(store, tokens=100, usd=1.0)
    phase = await store.ensure_budget_scope(
        run_id, kind="phase", name="prd", limits=BudgetLimits(), parent_id=root
    )
    task = await store.ensure_budget_scope(
        run_id, kind="task", name=new_id(), limits=BudgetLimits(), parent_id=phase.id
    )
    await store.reserve(task.id, tokens=60, usd=0.1)
    with pytest.raises(BudgetExceeded) as refused:  # the run scope has 40 tokens left
        await store.reserve(phase.id, tokens=50, usd=0.1)
    assert (refused.value.details["scope_id"], refused.value.details["dimension"]) == (root, "tokens")
    with pytest.raises(BudgetExceeded) as refused:  # dollars too
        await store.reserve(task.id, tokens=1, usd=0.95)
    assert (refused.value.details["scope_id"], refused.value.details["dimension"]) == (root, "usd")
    await store.reserve(task.id, tokens=40, usd=0.9)  # exactly what is left fits
    scopes = {s.kind: s for s in await store.get_budget_scopes(run_id)}
    assert (scopes["run"].reserved_tokens, scopes["phase"].reserved_tokens) == (100, 100)
    assert scopes["run"].reserved_usd == pytest.approx(1.0)


async def test_settle_moves_reserved_to_used_and_records_thresholds_once(store: RunStore) -> None:
    run_id, root = await run_scope_id(store, tokens=1000, usd=None)
    crossed: list[tuple[int, ...]] = []
    for actual in (400, 150, 200, 100, 150):  # cumulative 40, 55, 75, 85, 100 %
        reservation = await store.reserve(root, tokens=actual, usd=0.0)
        [scope] = await store.settle(reservation, tokens=actual, usd=0.0, events=[Event("llm.settled")])
        assert scope.reserved_tokens == 0
        crossed.append(scope.thresholds_crossed)
    assert crossed == [(), (50,), (50,), (50, 80), (50, 80, 95, 100)]
    assert scope.used_tokens == 1000
    events = await store.budget_events(run_id)
    assert [(e.threshold, e.dimension, e.scope_id) for e in events] == [
        (50, "tokens", root),
        (80, "tokens", root),
        (95, "tokens", root),
        (100, "tokens", root),
    ]
    ledger = [e for e in await store.list_events(run_id) if e.type == "budget.threshold"]
    assert [e.payload["threshold"] for e in ledger] == [50, 80, 95, 100]
    with pytest.raises(BudgetExceeded):
        await store.reserve(root, tokens=1, usd=0.0)


async def test_settle_below_reservation_frees_the_difference(store: RunStore) -> None:
    run_id, root = await run_scope_id(store, tokens=1000, usd=2.0)
    reservation = await store.reserve(root, tokens=900, usd=1.5)
    [scope] = await store.settle(reservation, tokens=100, usd=0.25)
    assert (scope.used_tokens, scope.reserved_tokens) == (100, 0)
    assert scope.used_usd == pytest.approx(0.25) and scope.reserved_usd == pytest.approx(0.0)
    await store.reserve(root, tokens=900, usd=1.75)  # fits again


async def test_a_reservation_settles_once(store: RunStore) -> None:
    run_id, root = await run_scope_id(store)
    reservation = await store.reserve(root, tokens=10, usd=0.01)
    await store.settle(reservation, tokens=10, usd=0.01)
    with pytest.raises(Conflict):
        await store.settle(reservation, tokens=10, usd=0.01)
    [scope] = await store.get_budget_scopes(run_id)
    assert scope.used_tokens == 10 and scope.reserved_tokens == 0


async def test_settle_stores_the_paid_call_with_the_spend_or_neither(store: RunStore) -> None:
    run_id, root = await run_scope_id(store, tokens=1000, usd=2.0)
    phase = await store.ensure_budget_scope(
        run_id, kind="phase", name="prd", limits=BudgetLimits(tokens=500), parent_id=root
    )
    reservation = await store.reserve(phase.id, tokens=400, usd=0.5)
    paid = make_call(run_id, input_tokens=110, output_tokens=10, cost_usd=0.02)
    scopes = await store.settle(reservation, tokens=120, usd=0.02, call=paid)
    assert [s.id for s in scopes] == [phase.id, root]  # innermost first, like the reservation
    assert [(s.used_tokens, s.reserved_tokens) for s in scopes] == [(120, 0), (120, 0)]
    assert [c.id for c in await store.list_llm_calls(run_id=run_id)] == [paid.id]
    with pytest.raises(Conflict):  # settled already: neither the spend nor the row counts twice
        await store.settle(
            reservation,
            tokens=120,
            usd=0.02,
            call=make_call(run_id, input_tokens=110, output_tokens=10, cost_usd=0.02),
        )
    assert [c.id for c in await store.list_llm_calls(run_id=run_id)] == [paid.id]
    assert {s.id: s.used_tokens for s in await store.get_budget_scopes(run_id)} == {root: 120, phase.id: 120}


async def test_concurrent_settles_record_each_threshold_once(backend: Backend) -> None:
    store, other = backend.store, await backend.open_another()
    run_id, root = await run_scope_id(store, tokens=None, usd=1.0)
    reservations = [await store.reserve(root, tokens=0, usd=0.05) for _ in range(20)]
    await asyncio.gather(
        *(s.settle(r, tokens=0, usd=0.05) for s, r in zip([store, other] * 10, reservations, strict=True))
    )
    events = await store.budget_events(run_id)
    assert sorted(e.threshold for e in events) == [50, 80, 95, 100]
    assert {e.dimension for e in events} == {"usd"}
    [scope] = await store.get_budget_scopes(run_id)
    assert scope.used_usd == pytest.approx(1.0) and scope.thresholds_crossed == (50, 80, 95, 100)
