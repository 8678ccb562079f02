"""The pipeline benchmark's critical-path analysis on hand-built task timelines."""

from __future__ import annotations

import pytest

from bench.critical_path import Span, critical_path, dependencies, realized_chain, step_of

NEEDS = {"a": [], "b": ["a"]}
AFTER = {"a": {"plan": [], "review": ["plan"]}, "b": {"x": [], "y": []}}


def span(
    i: str, phase: str, key: str, created: float, started: float, finished: float, attempt: int = 1
) -> Span:
    """A task whose model calls took all but 10 ms of its execution."""
    return Span(i, phase, key, attempt, created, started, finished, max(finished - started - 0.01, 0.0))


def test_steps_order_dispatch_questions_answer_rounds_then_next_attempt() -> None:
    keys = ["clarify-answers:a-r2", "plan", "clarify-questions:a", "clarify-answers:a-r1"]
    spans = [span(k, "a", k, 0, 0, 0) for k in keys] + [span("again", "a", "plan", 0, 0, 0, attempt=2)]
    ordered = sorted(spans, key=step_of)
    assert [s.id for s in ordered] == [
        "plan",
        "clarify-questions:a",
        "clarify-answers:a-r1",
        "clarify-answers:a-r2",
        "again",
    ]


def test_dependencies_follow_phase_dag_in_phase_order_per_story_and_steps() -> None:
    spans = [
        span("p1", "a", "plan:S1", 0, 0, 1),
        span("p2", "a", "plan:S2", 0, 0, 1),
        span("r1", "a", "review:S1", 1, 1, 2),
        span("q", "a", "clarify-questions:a", 2, 2, 3),
        span("x", "b", "x", 3, 3, 4),
        span("y", "b", "y", 3, 3, 4),
    ]
    deps = dependencies(spans, NEEDS, AFTER)
    assert deps["p1"] == [] and deps["p2"] == []
    assert deps["r1"] == ["p1"]  # its own story's plan, not the other story's
    assert sorted(deps["q"]) == ["p1", "p2", "r1"]
    assert sorted(deps["x"]) == ["p1", "p2", "q", "r1"]  # every task of the phase it needs
    assert "y" not in deps["x"]  # same-step siblings run in parallel


def test_critical_path_is_the_heaviest_chain_not_the_longest_list() -> None:
    spans = [
        span("p1", "a", "plan:S1", 0, 0, 5),  # 5 s alone
        span("p2", "a", "plan:S2", 0, 0, 1),
        span("r2", "a", "review:S2", 1, 1, 2),  # p2 → r2: 2 s over two tasks
        span("x", "b", "x", 5, 5, 6),
    ]
    deps = dependencies(spans, NEEDS, AFTER)
    total, chain = critical_path(spans, deps, weight="work")
    assert total == pytest.approx(6.0)
    assert [s.id for s in chain] == ["p1", "x"]
    assert critical_path(spans, deps)[0] == pytest.approx(6.0 - 0.02)  # model time only


def test_realized_chain_splits_wall_time_into_work_reaction_queue_and_slot_waits() -> None:
    # phase a allows one task at a time: plan:S2 waits for plan:S1's slot
    spans = [
        span("p1", "a", "plan:S1", 0.1, 0.2, 1.2),
        span("p2", "a", "plan:S2", 1.3, 1.5, 2.5),
        span("x", "b", "x", 2.9, 3.0, 4.0),
    ]
    deps = dependencies(spans, NEEDS, AFTER)
    cp, _ = critical_path(spans, deps, weight="work")
    out = realized_chain(spans, deps, {"a": 1, "b": 1}, run_start=0.0, run_end=4.5)
    assert cp == pytest.approx(2.0)  # the two plans could have run side by side
    assert out["model"] == pytest.approx(3.0 - 0.03)
    assert out["tasks"] == 3 and out["slot_waits"] == 1
    assert out["work"] == pytest.approx(3.0)
    assert out["slot_wait"] == pytest.approx(0.1)
    assert out["reaction"] == pytest.approx(0.4)
    assert out["phase_boundaries"] == 1 and out["reaction_at_phase_boundaries"] == pytest.approx(0.4)
    assert out["queue_wait"] == pytest.approx(0.1 + 0.2 + 0.1)
    assert (out["head"], out["tail"]) == (pytest.approx(0.1), pytest.approx(0.5))
    parts = ("work", "reaction", "slot_wait", "queue_wait", "head", "tail")
    assert sum(out[k] for k in parts) == pytest.approx(4.5)


def test_a_free_slot_is_not_a_slot_wait() -> None:
    # same timeline, but the cap is 2: plan:S2 could have started at once, so its gap is reaction
    spans = [span("p1", "a", "plan:S1", 0.1, 0.2, 1.2), span("p2", "a", "plan:S2", 1.3, 1.5, 2.5)]
    deps = dependencies(spans, NEEDS, AFTER)
    out = realized_chain(spans, deps, {"a": 2}, run_start=0.0, run_end=2.5)
    assert out["slot_waits"] == 0 and out["tasks"] == 1 and out["head"] == pytest.approx(1.3)


def test_empty_run() -> None:
    assert critical_path([], {}) == (0.0, [])
    assert realized_chain([], {}, {}, run_start=1.0, run_end=3.0)["head"] == pytest.approx(2.0)
