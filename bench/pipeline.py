"""Pipeline wall time: the three examples through all their phases, embedded, offline model.

Each example runs in its own child process so its peak RSS is its own. Per phase it
reports wall time (phase.started → phase.completed from the ledger) and orchestration
overhead = phase wall time − the time agents spent running (task.started → task.succeeded
of the phase's tasks, counting overlapping tasks once). Aims (issue #6): healthcare, all 13
phases, ≤ 5 s and ≤ 300 MB.

Run: ``venv/bin/python -m bench.pipeline`` → ``bench/results/pipeline.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._common import peak_rss_mb, write_result

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "orchestrations"
NAMES = ("todo-app", "iot-dashboard", "healthcare-platform")


def _union_seconds(spans: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for a, b in sorted(spans):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


async def _one(name: str) -> dict[str, Any]:
    from ideamine.embedded import EmbeddedRuntime
    from ideamine.llm.offline import OfflineProvider
    from ideamine.runfile import load_run_file

    request = load_run_file(str(EXAMPLES / f"{name}.yaml"))
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        async with EmbeddedRuntime(db_path=Path(d) / "db.sqlite3", provider=OfflineProvider()) as rt:
            t_open = time.perf_counter()
            run = await rt.submit(request)
            final = await rt.drive(run.id)
            t_done = time.perf_counter()
            events = await rt.store.list_events(run.id, limit=1_000_000)
            tasks = await rt.store.list_tasks(run.id)
    phases: dict[str, dict[str, Any]] = {}
    started: dict[str, float] = {}
    task_start: dict[str, float] = {}
    task_spans: dict[str, list[tuple[float, float]]] = {}
    for e in events:
        ts = e.created_at.timestamp()
        if e.type == "phase.started" and e.phase and e.phase not in started:
            started[e.phase] = ts
        elif e.type == "phase.completed" and e.phase in started:
            phases[e.phase] = {"wall_s": ts - started[e.phase]}
        elif e.type == "task.started" and e.task_id:
            task_start[e.task_id] = ts
        elif e.type == "task.succeeded" and e.task_id in task_start and e.phase:
            task_spans.setdefault(e.phase, []).append((task_start[e.task_id], ts))
    for p, row in phases.items():
        busy = _union_seconds(task_spans.get(p, []))
        row["agent_busy_s"] = busy
        row["overhead_s"] = max(row["wall_s"] - busy, 0.0)
    return {
        "example": name,
        "status": final.status.value,
        "phases": len(final.phases),
        "tasks": len(tasks),
        "startup_s": t_open - t0,
        "run_wall_s": t_done - t_open,
        "per_phase": phases,
        "peak_rss_mb": peak_rss_mb(),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run every example in a child process and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(asyncio.run(_one(args.child))))
        return {}
    rows = []
    for name in NAMES:
        out = subprocess.run(
            [sys.executable, "-m", "bench.pipeline", "--child", name],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(
        f"{'example':<22}{'status':<11}{'phases':>7}{'tasks':>7}{'run s':>9}{'overhead s':>12}{'peak MB':>9}"
    )
    for r in rows:
        overhead = sum(p["overhead_s"] for p in r["per_phase"].values())
        print(
            f"{r['example']:<22}{r['status']:<11}{r['phases']:>7}{r['tasks']:>7}{r['run_wall_s']:>9.2f}"
            f"{overhead:>12.2f}{r['peak_rss_mb']:>9.0f}"
        )
    health = next(r for r in rows if r["example"] == "healthcare-platform")
    summary = {
        "examples": rows,
        "aims": {
            "healthcare_wall_s_max": 5.0,
            "healthcare_rss_mb_max": 300.0,
            "healthcare_wall_s": health["run_wall_s"],
            "healthcare_peak_rss_mb": health["peak_rss_mb"],
        },
    }
    print(f"wrote {write_result('pipeline', summary)}")
    return summary


if __name__ == "__main__":
    main()
