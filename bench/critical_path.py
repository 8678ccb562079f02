"""Critical path of a recorded run: the longest chain of dependent agent work, and where wall time went.

A run's tasks form a DAG whose edges are the orderings the engine enforces, all derived
from what the run recorded (its tasks: phase, key, phase attempt, timestamps) and the
catalogue the engine planned from:

1. **phase DAG** — every task of a phase depends on every task of each phase it
   ``needs`` (the run driver starts a phase only when those have succeeded);
2. **in-phase order** — a dispatch task depends on the tasks its catalogue entry lists in
   ``after`` (same story for per-story tasks: ``review:ST-004`` after ``plan:ST-004``);
3. **phase steps** — within a phase the engine runs its steps one after another:
   dispatch, then the clarifier's question task, then each answer round
   (``clarify-answers:<phase>-rN``), then the gate, then (when the gate fails) the next
   attempt's dispatch. A task depends on every task of an earlier step of its phase.

Each task weighs the time it spent inside model calls (the run's model-call records).
The **critical path** is the heaviest chain of that work; nothing can finish a run
sooner, however many workers there are and however fast the orchestration (a variant
weighs whole task executions, ``started_at → finished_at``, the worker's own store
writes included). **Parallel efficiency** = critical path ÷ wall
time: 1.0 means the engine added nothing between dependent calls.

:func:`realized_chain` explains the difference: walking back from the last task, it
follows whichever recorded task the next one actually waited for (the latest to finish
before it was created — a dependency, or a task of the same phase holding one of the
phase's ``parallelism`` slots), and splits the wall time along that chain into agent
work, engine reaction (predecessor finished → task created), queue wait (created →
started) and slot waits. The parts add up to the wall time exactly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

__all__ = ["Span", "critical_path", "dependencies", "realized_chain", "step_of"]

_ROUND = re.compile(r"-r(\d+)$")
#: a task created this long after its binding predecessor finished still counts as "after" it
_CLOCK_SLACK = 0.002


@dataclass(frozen=True)
class Span:
    """One recorded task: where it belongs and when it was created, started and finished (epoch s)."""

    id: str
    phase: str
    key: str
    phase_attempt: int
    created: float
    started: float
    finished: float
    #: seconds the task spent inside model calls (from the run's model-call records)
    model: float = 0.0

    @property
    def work(self) -> float:
        """Seconds the task spent running (agent + model calls)."""
        return max(self.finished - self.started, 0.0)


def step_of(span: Span) -> tuple[int, int, int]:
    """``(phase attempt, stage, round)``: the order the engine runs a phase's steps in.

    Stage 0 is dispatch, 1 the clarifier's question task, 2 its answer rounds (by round).
    """
    if span.key.startswith("clarify-questions:"):
        return (span.phase_attempt, 1, 0)
    if span.key.startswith("clarify-answers:"):
        m = _ROUND.search(span.key)
        return (span.phase_attempt, 2, int(m.group(1)) if m else 0)
    return (span.phase_attempt, 0, 0)


def _after_keys(key: str, after: Mapping[str, Sequence[str]]) -> list[str]:
    base, sep, suffix = key.partition(":")
    return [f"{a}{sep}{suffix}" for a in after.get(base, ())]


def dependencies(
    spans: Sequence[Span],
    needs: Mapping[str, Sequence[str]],
    after: Mapping[str, Mapping[str, Sequence[str]]],
) -> dict[str, list[str]]:
    """Task id → ids of the tasks it depends on (rules 1–3 of the module docstring).

    Args:
        spans: the run's tasks.
        needs: phase → the phases it needs (the catalogue's phase DAG).
        after: phase → task key → the in-phase task keys it runs after.
    """
    by_phase: dict[str, list[Span]] = {}
    for s in spans:
        by_phase.setdefault(s.phase, []).append(s)
    deps: dict[str, list[str]] = {}
    for s in spans:
        mine = [t.id for need in needs.get(s.phase, ()) for t in by_phase.get(need, [])]
        step = step_of(s)
        in_order = set(_after_keys(s.key, after.get(s.phase, {}))) if step[1] == 0 else set()
        for t in by_phase[s.phase]:
            if t.id == s.id:
                continue
            if step_of(t) < step or (
                step_of(t) == step and t.phase_attempt == s.phase_attempt and t.key in in_order
            ):
                mine.append(t.id)
        deps[s.id] = mine
    return deps


def critical_path(
    spans: Sequence[Span], deps: Mapping[str, Sequence[str]], *, weight: str = "model"
) -> tuple[float, list[Span]]:
    """The heaviest dependency chain: its total weight (s) and its tasks, first to last.

    ``weight`` is ``"model"`` (time inside model calls: the work no orchestrator can
    remove) or ``"work"`` (the whole task execution, the worker's own bookkeeping included).
    """
    by_id = {s.id: s for s in spans}

    @cache
    def longest(task_id: str) -> tuple[float, tuple[str, ...]]:
        best: tuple[float, tuple[str, ...]] = (0.0, ())
        for d in deps.get(task_id, ()):
            cand = longest(d)
            if cand[0] > best[0]:
                best = cand
        return best[0] + getattr(by_id[task_id], weight), (*best[1], task_id)

    if not spans:
        return 0.0, []
    total, chain = max((longest(s.id) for s in spans), key=lambda c: c[0])
    return total, [by_id[i] for i in chain]


def realized_chain(
    spans: Sequence[Span],
    deps: Mapping[str, Sequence[str]],
    parallelism: Mapping[str, int],
    *,
    run_start: float,
    run_end: float,
) -> dict[str, Any]:
    """Split ``run_end − run_start`` along the chain of waits the run actually went through.

    Returns:
        ``tasks`` on the chain and seconds of ``work`` (task executions, of which
        ``model`` inside model calls), ``reaction`` (predecessor
        finished → task created, dependency waits), ``slot_wait`` (the same, when the
        task waited for a slot of its phase's parallelism cap rather than for a
        dependency), ``queue_wait`` (created → started), ``head`` (run start → first
        task created) and ``tail`` (last task finished → run end); they sum to the wall time.
        ``reaction_at_phase_boundaries`` is the part of ``reaction`` spent between one
        phase's last task and the next phase's first (gate, phase bookkeeping, planning).
    """
    by_id = {s.id: s for s in spans}
    out: dict[str, Any] = {
        "tasks": 0,
        "work": 0.0,
        "model": 0.0,
        "reaction": 0.0,
        "slot_wait": 0.0,
        "queue_wait": 0.0,
        "slot_waits": 0,
        "phase_boundaries": 0,
        "reaction_at_phase_boundaries": 0.0,
        "head": 0.0,
        "tail": 0.0,
    }
    if not spans:
        out["head"] = run_end - run_start
        return out
    cur = max(spans, key=lambda s: s.finished)
    out["tail"] = run_end - cur.finished
    while True:
        out["tasks"] += 1
        out["work"] += cur.work
        out["model"] += cur.model
        out["queue_wait"] += max(cur.started - cur.created, 0.0)
        pred = _binding(cur, spans, by_id, deps, parallelism)
        if pred is None:
            out["head"] += cur.created - run_start
            break
        gap = max(cur.created - pred[0].finished, 0.0)
        out["slot_wait" if pred[1] else "reaction"] += gap
        if pred[0].phase != cur.phase:
            out["phase_boundaries"] += 1
            out["reaction_at_phase_boundaries"] += gap
        out["slot_waits"] += int(pred[1])
        cur = pred[0]
    return out


def _binding(
    cur: Span,
    spans: Sequence[Span],
    by_id: Mapping[str, Span],
    deps: Mapping[str, Sequence[str]],
    parallelism: Mapping[str, int],
) -> tuple[Span, bool] | None:
    """The task ``cur`` waited for, and whether it was a slot holder rather than a dependency."""
    limit = cur.created + _CLOCK_SLACK
    dep = max((by_id[d] for d in deps.get(cur.id, ()) if by_id[d].finished <= limit), key=_fin, default=None)
    holders = [
        s
        for s in spans
        if s.phase == cur.phase
        and s.id not in deps.get(cur.id, ())
        and s.id != cur.id
        and s.finished <= limit
        and s.started < cur.created
        and step_of(s) == step_of(cur)
    ]
    cap = parallelism.get(cur.phase, 0)
    slot = max(holders, key=_fin, default=None) if cap else None
    if slot is not None:  # a slot wait only when the phase really had every slot taken then
        t = slot.finished - _CLOCK_SLACK
        busy = sum(1 for s in spans if s.phase == cur.phase and s.created <= t < s.finished)
        slot = slot if busy >= cap else None
    if slot is not None and (dep is None or slot.finished > dep.finished):
        return slot, True
    return (dep, False) if dep is not None else None


def _fin(s: Span) -> float:
    return s.finished
