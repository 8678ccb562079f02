"""Figures of one finished run, read back from its store (SQLite embedded, PostgreSQL distributed).

Everything comes from what the run recorded — the ledger (run and phase events), the
task rows (created, started, finished) and the model-call rows (latency) — so embedded
and distributed runs are measured by the same code:

- run wall time: ledger ``run.started`` → the run's terminal event;
- per phase: wall time (``phase.started`` → ``phase.completed``), agent-busy time (the
  union of its tasks' ``started → finished``), orchestration overhead (wall − busy) and
  the time inside model calls;
- the critical path (weighed by time inside model calls, and by whole task executions)
  and the realized chain of :mod:`bench.critical_path`.
"""

from __future__ import annotations

from typing import Any

from bench.critical_path import Span, critical_path, dependencies, realized_chain
from ideamine.catalogue import Catalogue
from ideamine.store.base import RunStore

__all__ = ["run_trace", "union_seconds"]

_RUN_ENDS = ("run.completed", "run.failed", "run.needs_waiver", "run.budget_exhausted", "run.awaiting_input")


def union_seconds(spans: list[tuple[float, float]]) -> float:
    """Seconds covered by at least one span (overlapping spans count once)."""
    total, end = 0.0, float("-inf")
    for a, b in sorted(spans):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def _phase_walls(events: list[Any]) -> tuple[dict[str, dict[str, float]], float, float]:
    started: dict[str, float] = {}
    phases: dict[str, dict[str, float]] = {}
    run_start = run_end = 0.0
    for e in events:
        ts = e.created_at.timestamp()
        if e.type == "run.started" and not run_start:
            run_start = ts
        elif e.type in _RUN_ENDS:
            run_end = ts
        elif e.type == "phase.started" and e.phase and e.phase not in started:
            started[e.phase] = ts
        elif e.type == "phase.completed" and e.phase in started:
            phases[e.phase] = {"wall_s": ts - started[e.phase]}
    return phases, run_start, run_end


async def run_trace(store: RunStore, run_id: str, catalogue: Catalogue) -> dict[str, Any]:
    """Wall time, per-phase overhead, critical path and parallel efficiency of a finished run."""
    events = await store.list_events(run_id, limit=1_000_000)
    tasks = await store.list_tasks(run_id)
    calls = await store.list_llm_calls(run_id=run_id)
    phases, run_start, run_end = _phase_walls(events)
    in_calls: dict[str, float] = {}
    for c in calls:
        if c.task_id:
            in_calls[c.task_id] = in_calls.get(c.task_id, 0.0) + c.latency_ms / 1000
    spans = [
        Span(
            t.id,
            t.phase,
            t.task_key,
            t.phase_attempt,
            t.created_at.timestamp(),
            t.started_at.timestamp(),
            t.finished_at.timestamp(),
            in_calls.get(t.id, 0.0),
        )
        for t in tasks
        if t.started_at is not None and t.finished_at is not None
    ]
    model_s: dict[str, float] = {}
    for c in calls:
        model_s[c.phase or ""] = model_s.get(c.phase or "", 0.0) + c.latency_ms / 1000
    for name, row in phases.items():
        busy = union_seconds([(s.started, s.finished) for s in spans if s.phase == name])
        row["agent_busy_s"] = busy
        row["overhead_s"] = max(row["wall_s"] - busy, 0.0)
        row["model_call_s"] = model_s.get(name, 0.0)
    present = {s.phase for s in spans}
    needs = {p: [n for n in catalogue.phase(p).needs if n in present] for p in present}
    after = {p: {t.key: list(t.after) for t in catalogue.phase(p).tasks} for p in present}
    deps = dependencies(spans, needs, after)
    cp, chain = critical_path(spans, deps)
    cp_tasks, _ = critical_path(spans, deps, weight="work")
    wall = run_end - run_start
    parallelism = {p: catalogue.phase(p).parallelism for p in present}
    realized = realized_chain(spans, deps, parallelism, run_start=run_start, run_end=run_end)
    return {
        "tasks": len(tasks),
        "model_calls": len(calls),
        "model_call_s": sum(c.latency_ms for c in calls) / 1000,
        "run_wall_s": wall,
        "per_phase": phases,
        "overhead_s": sum(p["overhead_s"] for p in phases.values()),
        "critical_path_s": cp,
        "critical_path_tasks": len(chain),
        "critical_path_task_time_s": cp_tasks,
        "critical_path": [f"{s.phase}/{s.key}" for s in chain],
        "parallel_efficiency": cp / wall if wall > 0 else float("nan"),
        "realized_chain": realized,
    }
