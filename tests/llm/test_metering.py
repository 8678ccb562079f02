"""MeteredLLM against a real SQLite RunStore: reservations, settlements, llm_calls rows."""

from __future__ import annotations

import dataclasses

import pytest

from ideamine.errors import BudgetExceeded, LLMRetryable
from ideamine.llm.base import LLMProvider
from ideamine.llm.client import MeteredLLM
from ideamine.store.base import RunStore
from ideamine.store.records import BudgetLimits, NewRun
from tests.llm.conftest import FAST_RETRY, VALID_IDEA, make_request, schema_validator
from tests.llm.fake_messages_server import error_reply, tool_reply

try:
    from ideamine.store.factory import open_store
except ImportError as exc:  # pragma: no cover - only while the store is being written
    pytest.skip(f"ideamine.store.factory is not importable yet: {exc}", allow_module_level=True)


@pytest.fixture
async def store(tmp_path):
    s = await open_store(f"sqlite:///{tmp_path / 'ideamine.db'}")
    yield s
    await s.close()


async def task_scope(store, *, tokens: int | None, usd: float | None = None) -> tuple[str, str]:
    """A run with the given budget and a task scope under it; returns (run_id, scope_id)."""
    run = await store.create_run(
        NewRun(
            tenant="acme",
            title="Todo",
            idea={"text": "a todo app", "title": "Todo", "constraints": {}},
            phases=("intake",),
            budget=BudgetLimits(tokens=tokens, usd=usd),
        )
    )
    [run_scope] = await store.get_budget_scopes(run.id)
    scope = await store.ensure_budget_scope(
        run.id, kind="task", name="task-1", limits=BudgetLimits(), parent_id=run_scope.id
    )
    return run.id, scope.id


def metered(provider: LLMProvider, store: RunStore, run_id: str, scope_id: str) -> MeteredLLM:
    return MeteredLLM(
        provider,
        store=store,
        scope_id=scope_id,
        run_id=run_id,
        phase="intake",
        task_id="task-1",
        agent="intake-agent",
        validate=schema_validator,
    )


async def test_calls_reserve_settle_and_write_llm_call_rows(server, make_provider, store):
    run_id, scope_id = await task_scope(store, tokens=100_000, usd=5.0)
    server.script(
        tool_reply({"title": ""}, input_tokens=300, output_tokens=20),
        tool_reply(VALID_IDEA, input_tokens=400, output_tokens=30),
    )
    llm = metered(make_provider(), store, run_id, scope_id)
    art = await llm.generate(make_request())

    calls = await store.list_llm_calls(run_id=run_id)
    assert [c.status for c in calls] == ["ok", "ok"]
    assert [(c.input_tokens, c.output_tokens) for c in calls] == [(300, 20), (400, 30)]
    assert calls[0].request_hash != calls[1].request_hash  # the repair carried the errors
    assert {(c.agent, c.phase, c.task_id, c.provider) for c in calls} == {
        ("intake-agent", "intake", "task-1", "anthropic")
    }
    assert all(c.model == "claude-haiku-4-5-20251001" and c.latency_ms >= 0 for c in calls)
    assert sum(c.cost_usd for c in calls) == pytest.approx(art.cost_usd)

    for scope in await store.get_budget_scopes(run_id):
        assert (scope.reserved_tokens, scope.reserved_usd) == (0, pytest.approx(0))
        assert scope.used_tokens == 750
        assert scope.used_usd == pytest.approx(art.cost_usd)


async def test_budget_too_small_stops_before_any_request(server, make_provider, store):
    run_id, scope_id = await task_scope(store, tokens=500)  # max_tokens alone is 1000
    llm = metered(make_provider(), store, run_id, scope_id)
    with pytest.raises(BudgetExceeded):
        await llm.generate(make_request())
    assert server.requests == []
    assert await store.list_llm_calls(run_id=run_id) == []
    assert llm.usage.calls == 0


async def test_usd_budget_is_reserved_at_the_worst_case_price(server, make_provider, store):
    # 1000 max output tokens of haiku cost $0.005: a $0.001 budget cannot hold the worst case
    run_id, scope_id = await task_scope(store, tokens=None, usd=0.001)
    with pytest.raises(BudgetExceeded) as info:
        await metered(make_provider(), store, run_id, scope_id).generate(make_request())
    assert info.value.details["dimension"] == "usd"
    assert server.requests == []


async def test_failed_call_settles_zero_and_records_an_error_row(server, make_provider, store):
    run_id, scope_id = await task_scope(store, tokens=100_000)
    server.script(error_reply(500))
    provider = make_provider(retry=dataclasses.replace(FAST_RETRY, transient_tries=1))
    with pytest.raises(LLMRetryable):
        await metered(provider, store, run_id, scope_id).generate(make_request())

    [call] = await store.list_llm_calls(run_id=run_id)
    assert call.status == "error" and call.error is not None and "LLM_UNAVAILABLE" in call.error
    assert (call.input_tokens, call.output_tokens, call.cost_usd) == (0, 0, 0.0)
    for scope in await store.get_budget_scopes(run_id):
        assert (scope.reserved_tokens, scope.used_tokens) == (0, 0)


async def test_settled_usage_crosses_thresholds_once(server, make_provider, store):
    run_id, scope_id = await task_scope(store, tokens=4_000)
    server.script(tool_reply(VALID_IDEA, input_tokens=1_500, output_tokens=600))
    await metered(make_provider(), store, run_id, scope_id).generate(make_request())
    events = await store.budget_events(run_id)
    assert [(e.threshold, e.dimension) for e in events] == [(50, "tokens")]
