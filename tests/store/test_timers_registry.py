"""Contract: durable timers (each claimed once), LLM call records, agent hosts, lifecycle."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from ideamine.errors import NotFound, StoreUnavailable
from ideamine.ids import new_id
from ideamine.store.base import RunStore
from ideamine.store.postgres import timers as postgres_timers
from ideamine.store.records import AgentHostRecord, TimerRecord, UsageTotals
from ideamine.store.sqlite import ownership as sqlite_ownership
from tests.store.conftest import Backend, make_call, make_run

PAST = datetime(2020, 1, 1, tzinfo=UTC)


async def test_arm_timer_is_idempotent_per_key(store: RunStore) -> None:
    run = await make_run(store)
    fire_at = datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    timer = await store.arm_timer(run.id, kind="stall", key="task-1", fire_at=fire_at, payload={"task": "t1"})
    again = await store.arm_timer(run.id, kind="stall", key="task-1", fire_at=PAST, payload={})
    assert again == timer
    assert (timer.fire_at, timer.payload, timer.fired_at, timer.claimed_by) == (
        fire_at,
        {"task": "t1"},
        None,
        None,
    )
    with pytest.raises(NotFound):
        await store.arm_timer(new_id(), kind="stall", key="x", fire_at=PAST, payload={})


async def test_claim_complete_and_cancel(store: RunStore) -> None:
    run = await make_run(store)
    due = await store.arm_timer(run.id, kind="retry", key="a", fire_at=PAST, payload={})
    later = await store.arm_timer(run.id, kind="retry", key="b", fire_at=PAST + timedelta(days=1), payload={})
    future = await store.arm_timer(
        run.id, kind="timebox", key="prd", fire_at=PAST + timedelta(days=9999), payload={}
    )
    claimed = await store.claim_due_timers(owner="orch-a", now=PAST + timedelta(days=2))
    assert [t.id for t in claimed] == [due.id, later.id]
    assert {t.claimed_by for t in claimed} == {"orch-a"}
    assert await store.claim_due_timers(owner="orch-b", now=PAST + timedelta(days=2)) == []
    await store.complete_timer(due.id)
    assert await store.cancel_timer(run.id, kind="retry", key="a") is False  # fired already
    assert await store.cancel_timer(run.id, kind="timebox", key="prd") is True
    assert await store.cancel_timer(run.id, kind="timebox", key="prd") is False
    assert await store.claim_due_timers(owner="orch-a", now=future.fire_at + timedelta(days=1)) == []
    with pytest.raises(NotFound):
        await store.complete_timer(new_id())


async def test_claim_due_timers_filters_by_run(store: RunStore) -> None:
    a, b = await make_run(store), await make_run(store)
    await store.arm_timer(a.id, kind="k", key="1", fire_at=PAST, payload={})
    tb = await store.arm_timer(b.id, kind="k", key="1", fire_at=PAST, payload={})
    assert await store.claim_due_timers(owner="o", run_ids=[]) == []
    assert [t.id for t in await store.claim_due_timers(owner="o", run_ids=[b.id])] == [tb.id]


async def test_an_abandoned_claim_expires_and_the_timer_is_claimed_again(
    store: RunStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A claimer that died between claim and fire must not leave the timer unfired for ever."""
    run = await make_run(store)
    timer = await store.arm_timer(run.id, kind="k", key="1", fire_at=PAST, payload={})
    assert [t.id for t in await store.claim_due_timers(owner="dead")] == [timer.id]
    assert await store.claim_due_timers(owner="alive") == []  # a fresh claim holds
    for module in (postgres_timers, sqlite_ownership):  # every claim is now older than the timeout
        monkeypatch.setattr(module, "TIMER_CLAIM_TIMEOUT", timedelta(0))
    [again] = await store.claim_due_timers(owner="alive")
    assert (again.id, again.claimed_by) == (timer.id, "alive")
    await store.complete_timer(timer.id)
    assert await store.claim_due_timers(owner="third") == []  # fired timers are never claimed again


async def test_concurrent_claimants_claim_each_timer_once(backend: Backend) -> None:
    store, other = backend.store, await backend.open_another()
    run = await make_run(store)
    timers = [
        await store.arm_timer(run.id, kind="k", key=str(i), fire_at=PAST, payload={}) for i in range(30)
    ]
    batches = await asyncio.gather(
        *(s.claim_due_timers(owner=f"orch-{i}", limit=4) for i, s in enumerate([store, other] * 6))
    )
    claimed: list[TimerRecord] = [t for batch in batches for t in batch]
    assert sorted(t.id for t in claimed) == sorted(t.id for t in timers[: len(claimed)])
    assert len(claimed) == len({t.id for t in claimed}) == min(30, 4 * 12)
    owners = {b[0].claimed_by for b in batches if b}
    assert all(t.claimed_by in owners for t in claimed)


async def test_llm_calls_are_recorded_and_listed(store: RunStore) -> None:
    run = await make_run(store)
    task_id = new_id()

    first, second, third = (
        make_call(run.id, task_id),
        make_call(run.id, status="error"),
        make_call(run.id, task_id),
    )
    for c in (first, second, third):
        await store.record_llm_call(c)
    listed = await store.list_llm_calls(run_id=run.id)
    assert [c.id for c in listed] == [first.id, second.id, third.id]
    assert listed[0].cost_usd == pytest.approx(0.0125) and listed[1].error == "overloaded"
    assert abs(listed[0].created_at - first.created_at) < timedelta(milliseconds=1)
    assert [c.id for c in await store.list_llm_calls(task_id=task_id)] == [first.id, third.id]
    totals = await store.run_usage(run.id)  # summed by the store, one row
    assert (totals.calls, totals.input_tokens, totals.output_tokens) == (3, 3600, 2400)
    assert totals.cost_usd == pytest.approx(0.0375) and totals == UsageTotals.of(listed)
    assert await store.run_usage((await make_run(store)).id) == UsageTotals()  # no calls: zeros


async def test_agent_hosts_register_heartbeat_list(store: RunStore) -> None:
    now = datetime.now(UTC)
    host = AgentHostRecord(
        id=new_id(),
        name="host-b",
        address="10.0.0.2:50061",
        agents=[{"name": "intake-agent", "version": "1.0.0", "phase": "intake", "source": "builtin"}],
        capacity=4,
        status="UP",
        last_heartbeat_at=now,
        registered_at=now,
    )
    stored = await store.register_host(host)
    assert stored.agents == host.agents and stored.capacity == 4
    replaced = await store.register_host(AgentHostRecord(**{**host.__dict__, "capacity": 8}))
    assert replaced.capacity == 8
    beat = await store.heartbeat_host(host.id, status="DRAINING")
    assert beat.status == "DRAINING" and beat.last_heartbeat_at >= stored.last_heartbeat_at
    other = await store.register_host(AgentHostRecord(**{**host.__dict__, "id": new_id(), "name": "host-a"}))
    assert [h.name for h in await store.list_hosts()] == ["host-a", "host-b"]
    assert other.name == "host-a"
    with pytest.raises(NotFound):
        await store.heartbeat_host(new_id(), status="UP")


async def test_lifecycle_ping_close_idempotent(backend: Backend) -> None:
    store = await backend.open_another()
    assert await store.ping()
    await store.open()  # idempotent
    await store.close()
    await store.close()
    assert not await store.ping()
    with pytest.raises(StoreUnavailable):
        await store.get_run(new_id())
