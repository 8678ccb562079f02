"""The "Pipeline wall time" section of docs/benchmarks.md, rendered from ``pipeline.json``.

Kept apart from ``scripts/gen_bench_docs.py`` (which calls :func:`pipeline_section`) so
the page generator stays one screenful per benchmark.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["pipeline_section"]

DEFINITION = (
    "**Critical path** = the heaviest chain of dependent model-call work the run recorded: each task weighs "
    "the time it spent inside model calls (the run's `llm_calls` rows), and a task depends on every task of the "
    "phases its phase `needs` (the phase DAG), on the tasks its catalogue entry runs `after` (same story "
    "for per-story tasks), and on every task of an earlier step of its own phase (dispatch, then the "
    "clarifier's questions, then each answer round, then the next gate attempt). Nothing could finish the "
    'run sooner, however many workers there were and however fast the orchestration (the "task time" '
    "variant weighs whole task executions, `started → finished`, so the worker's own store writes count as "
    "work). **Parallel efficiency** = critical path ÷ run wall time "
    "(ledger `run.started` → `run.completed`); 1.0 means the orchestration added nothing between dependent "
    "calls. The realized chain walks back from the last task through whichever task each one actually "
    "waited for and splits the wall time into agent work, engine reaction (predecessor finished → task "
    "created), queue wait (created → a worker started it) and slot waits (the phase's `parallelism` cap was "
    "full); with head and tail these add up to the wall time. Computed by `bench/critical_path.py`."
)


def _n(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:,.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(r) + " |" for r in rows),
    ]


def _warmup(p: dict[str, Any]) -> str:
    """How the distributed stacks were warmed up (older results had no warm-up run)."""
    name = p.get("warmup")
    if not name:
        return ""
    return (
        f", after one unreported warm-up run of `{name}` on the same stack so that its connection pools, "
        "prepared statements and model-client connections are warm, as on a long-running service"
    )


def _by_name(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["example"]: r for r in rows}


def _pipeline_order(phase: str) -> int:
    """A phase's place in the catalogue's pipeline (the result files sort their keys by name)."""
    from ideamine.catalogue import load_catalogue

    names = list(load_catalogue().names)
    return names.index(phase) if phase in names else len(names)


def _overview(p: dict[str, Any]) -> list[str]:
    emb, dist = _by_name(p.get("examples", [])), _by_name(p.get("distributed", []))
    rows = []
    for name in dict.fromkeys([*emb, *dist]):
        e, d = emb.get(name, {}), dist.get(name, {})
        rows.append(
            [
                name,
                str(e.get("status") or d.get("status")),
                str(e.get("tasks", d.get("tasks", "?"))),
                _n(e.get("run_wall_s")),
                _n(e.get("overhead_s")),
                _n(e.get("peak_rss_mb"), 0),
                _n(d.get("run_wall_s")),
                _n(d.get("overhead_s")),
            ]
        )
    head = [
        "example",
        "status",
        "tasks",
        "embedded wall (s)",
        "embedded overhead (s)",
        "embedded peak MB",
        "distributed wall (s)",
        "distributed overhead (s)",
    ]
    return _table(head, rows)


def _per_phase(p: dict[str, Any]) -> list[str]:
    emb, dist = _by_name(p.get("examples", [])), _by_name(p.get("distributed", []))
    out: list[str] = []
    for name in dict.fromkeys([*emb, *dist]):
        e, d = emb.get(name, {}).get("per_phase", {}), dist.get(name, {}).get("per_phase", {})
        rows = [
            [
                phase,
                _n(e.get(phase, {}).get("wall_s")),
                _n(e.get(phase, {}).get("overhead_s")),
                _n(d.get(phase, {}).get("wall_s")),
                _n(d.get(phase, {}).get("overhead_s")),
            ]
            for phase in sorted({*e, *d}, key=_pipeline_order)
        ]
        out += ["", f"**{name}**, per phase (seconds):", ""]
        head = ["phase", "embedded wall", "embedded overhead", "distributed wall", "distributed overhead"]
        out += _table(head, rows)
    return out


def _per_step(c: dict[str, Any]) -> str:
    """Milliseconds per task on the realized chain: the worker's own time around its model
    calls, engine reaction and queue wait."""
    n = c.get("tasks") or 0
    if not n or "model" not in c:
        return "n/a"
    parts = (c["work"] - c["model"], c["reaction"], c["queue_wait"])
    return " / ".join(f"{1000 * x / n:.0f}" for x in parts)


def _budget(p: dict[str, Any]) -> list[str]:
    """What ≥ 0.9 leaves per dependent step, against what each distributed run spent."""
    lines = []
    for r in p.get("slow_model", {}).get("distributed", []):
        c = r.get("realized_chain", {})
        n = c.get("tasks") or 0
        if not n or "model" not in c:
            continue
        model = 1000 * c["model"] / n
        spent = 1000 * (c["work"] - c["model"] + c["reaction"] + c["queue_wait"] + c["slot_wait"]) / n
        lines.append(
            f"{r['example']}: {model:.0f} ms of model time per chain task, so 0.9 allows {model / 9:.0f} ms of "
            f"everything else per task; it spent {spent:.0f} ms"
        )
    if not lines:
        return []
    return [
        "Every dependent step pays the round trip worker commit → notice → engine pass → new task → queue → "
        "worker start, and the chain is long: each phase runs its dispatch tasks, then the clarifier's question "
        "task and up to five answer rounds one after another. Distributed: " + "; ".join(lines) + ".",
        "",
    ]


def _slow(p: dict[str, Any], hosts: Any) -> list[str]:
    slow = p.get("slow_model", {})
    rows = []
    for mode, label in (("embedded", "embedded"), ("distributed", f"distributed, {hosts} hosts")):
        for r in slow.get(mode, []):
            c = r.get("realized_chain", {})
            rows.append(
                [
                    r["example"],
                    label,
                    str(r["tasks"]) + ("" if r["status"] == "SUCCEEDED" else f" ({r['status']})"),
                    _n(r["run_wall_s"]),
                    _n(r["critical_path_s"]),
                    _n(r.get("critical_path_task_time_s")),
                    f"**{_n(r['parallel_efficiency'])}**",
                    str(c.get("tasks", "?")),
                    _n(c.get("reaction")),
                    _n(c.get("reaction_at_phase_boundaries")),
                    _n(c.get("queue_wait")),
                    f"{_n(c.get('slot_wait'))} ({c.get('slot_waits', 0)})",
                    _per_step(c),
                ]
            )
    head = [
        "example",
        "mode",
        "tasks",
        "wall (s)",
        "critical path (s)",
        "… by task time (s)",
        "efficiency",
        "chain tasks",
        "engine reaction (s)",
        "of which between phases (s)",
        "queue wait (s)",
        "slot waits (s, count)",
        "per chain task, ms: worker / reaction / queue",
    ]
    return _table(head, rows)


def pipeline_section(results: dict[str, dict[str, Any]]) -> list[str]:
    """Overview, per-phase overhead and the slow-model efficiency table (or a note when missing)."""
    p = results.get("pipeline")
    if not p or "examples" not in p:
        return ["No `pipeline.json` yet: run `python -m bench --only pipeline`."]
    hosts = p.get("hosts", "?")
    out = [
        "The three examples through every phase, offline model: embedded (SQLite, in-process queue, one "
        f"child process per example) and distributed (orchestrator + {hosts} agent hosts + PostgreSQL + "
        f"Redis, submitted over the API one after another{_warmup(p)}). Wall time is the ledger's "
        "`run.started` → "
        "`run.completed`; orchestration overhead is a phase's wall time minus the time its agents were "
        "running (overlapping tasks counted once), summed over the phases.",
        "",
        *_overview(p),
        *_per_phase(p),
    ]
    if "slow_model" in p:
        delay = p["slow_model"].get("delay_ms", "?")
        load = p.get("load_average_at_write")
        out += [
            "",
            f"### With a model taking {delay} ms per call",
            "",
            "The same runs with agents on `--model anthropic` (the real SDK, real HTTP) against a local "
            f"Messages API server that answers like the offline model after {delay} ms (`bench/_model_server.py`). "
            "Target: parallel efficiency ≥ 0.9. A run that stopped before its last phase (a gate failed every "
            "attempt) is measured up to where it stopped."
            + (
                f" Load average when written: {', '.join(str(x) for x in load)} (1/5/15 min)." if load else ""
            ),
            "",
            *_slow(p, hosts),
            "",
            *_budget(p),
            DEFINITION,
        ]
    return out
