"""After a real embedded run, /metrics (scraped over a socket) moved exactly as the store says."""

from __future__ import annotations

import socket
from collections import Counter

import pytest

from ideamine.enums import TaskStatus
from ideamine.metrics import ALLOWED_LABELS, start_metrics_server
from tests.observability.conftest import ObservedRun
from tests.observability.scrape import delta, scrape


def _started(o: ObservedRun) -> Counter[str]:
    return Counter(t.agent for t in o.tasks if t.started_at is not None)


def test_run_and_phase_counters_moved_once_per_run_and_phase(observed: ObservedRun) -> None:
    b, a = observed.before, observed.after
    assert delta(
        a.by("ideamine_runs_completed_total", "status"), b.by("ideamine_runs_completed_total", "status")
    ) == {"succeeded": 1}
    assert (
        a.total("ideamine_run_duration_seconds_count") - b.total("ideamine_run_duration_seconds_count") == 1
    )
    assert a.total("ideamine_run_cost_usd_count") - b.total("ideamine_run_cost_usd_count") == 1
    assert a.value("ideamine_runs_active") == b.value("ideamine_runs_active") == 0
    phases = {p: 1.0 for p in observed.run.phases}
    for name in ("ideamine_phase_completions_total", "ideamine_phase_duration_seconds_count"):
        assert (
            delta(a.by(name, "phase", status="succeeded"), b.by(name, "phase", status="succeeded")) == phases
        )
    assert not delta(
        a.by("ideamine_phase_errors_total", "phase"), b.by("ideamine_phase_errors_total", "phase")
    )
    for phase in observed.run.phases:
        assert 0.0 < a.value("ideamine_budget_utilisation_ratio", phase=phase) <= 1.0


def test_gate_counters_match_the_recorded_evaluations(observed: ObservedRun) -> None:
    b, a = observed.before, observed.after
    by_phase = Counter(g.phase for g in observed.gates)
    by_decision = Counter(g.decision.value.lower() for g in observed.gates)
    name = "ideamine_gate_evaluations_total"
    assert delta(a.by(name, "phase"), b.by(name, "phase")) == by_phase
    assert delta(a.by(name, "decision"), b.by(name, "decision")) == by_decision
    assert (
        delta(a.by("ideamine_gate_score_count", "phase"), b.by("ideamine_gate_score_count", "phase"))
        == by_phase
    )
    scores = sum(g.score for g in observed.gates)
    observed_sum = a.total("ideamine_gate_score_sum") - b.total("ideamine_gate_score_sum")
    assert observed_sum == pytest.approx(scores)


def test_task_counters_match_the_task_rows(observed: ObservedRun) -> None:
    b, a = observed.before, observed.after
    assert all(t.status is TaskStatus.SUCCEEDED and t.attempt == 1 for t in observed.tasks)
    started = _started(observed)
    assert sum(started.values()) == len(observed.tasks) > 13
    for name in (
        "ideamine_tasks_started_total",
        "ideamine_task_queue_wait_seconds_count",
        "ideamine_task_run_seconds_count",
    ):
        assert delta(a.by(name, "agent"), b.by(name, "agent")) == started, name
    done = "ideamine_tasks_completed_total"
    assert delta(a.by(done, "agent", status="succeeded"), b.by(done, "agent", status="succeeded")) == started
    assert delta(a.by(done, "status"), b.by(done, "status")) == {"succeeded": len(observed.tasks)}
    published = a.total("ideamine_tasks_published_total") - b.total("ideamine_tasks_published_total")
    assert published == len(observed.tasks)
    for quiet in (
        "ideamine_task_idempotent_hits_total",
        "ideamine_task_redeliveries_total",
        "ideamine_dead_letters_total",
    ):
        assert a.total(quiet) == b.total(quiet), quiet


def test_llm_counters_match_the_recorded_calls(observed: ObservedRun) -> None:
    b, a = observed.before, observed.after
    calls = observed.calls
    assert calls and all(c.status == "ok" for c in calls)
    req = "ideamine_llm_requests_total"
    assert delta(a.by(req, "agent", status="ok"), b.by(req, "agent", status="ok")) == Counter(
        c.agent for c in calls
    )
    assert delta(a.by(req, "model"), b.by(req, "model")) == Counter(c.model for c in calls)
    tokens = "ideamine_llm_tokens_total"
    assert delta(a.by(tokens, "direction"), b.by(tokens, "direction")) == {
        "input": sum(c.input_tokens for c in calls),
        "output": sum(c.output_tokens for c in calls),
    }
    by_phase = Counter[str]()
    for c in calls:
        by_phase[c.phase or ""] += c.input_tokens + c.output_tokens
    assert delta(a.by(tokens, "phase"), b.by(tokens, "phase")) == by_phase
    assert a.total("ideamine_llm_cost_usd_total") - b.total("ideamine_llm_cost_usd_total") == pytest.approx(
        sum(c.cost_usd for c in calls)
    )
    circuit = ("ideamine_llm_circuit_state", frozenset({("provider", "offline"), ("model", "default")}))
    assert a.samples[circuit] == 0  # closed (present: the breaker was consulted)


def test_worker_capacity_gauges_rise_while_open_and_return_after_close(observed: ObservedRun) -> None:
    b, d, a = observed.before, observed.during, observed.after
    assert d.value("ideamine_agent_host_slots") == b.value("ideamine_agent_host_slots") + 4
    assert a.value("ideamine_agent_host_slots") == b.value("ideamine_agent_host_slots")
    assert a.value("ideamine_agent_host_busy_slots") == b.value("ideamine_agent_host_busy_slots")
    assert not delta(a.by("ideamine_tasks_running", "agent"), b.by("ideamine_tasks_running", "agent"))


def test_labels_are_bounded_and_never_carry_run_or_task_ids(observed: ObservedRun) -> None:
    ids = {observed.run.id} | {t.id for t in observed.tasks} | {c.id for c in observed.calls}
    ours = [(n, labels) for (n, labels) in observed.after.samples if n.startswith("ideamine_")]
    assert len(ours) > 100
    for name, labels in ours:
        names = {k for k, _ in labels} - {"le"}
        assert names <= ALLOWED_LABELS, (name, names - ALLOWED_LABELS)
        assert not {v for _, v in labels} & ids, name
    assert all(n.startswith("ideamine_") for n in observed.after.families if "ideamine" in n)


def test_metrics_server_refuses_a_taken_port_and_frees_its_own() -> None:
    server = start_metrics_server(0)
    port = server.port
    try:
        assert "ideamine_build_info" in scrape(port).names()
        with pytest.raises(OSError):
            start_metrics_server(port)
    finally:
        server.close()
    with socket.socket() as s:  # the port is free again
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
