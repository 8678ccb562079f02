"""Pipeline wall time: the three examples through all their phases, embedded and distributed.

Four measurements in one run, on the same machine:

1. **embedded, offline model** — SQLite, in-process queue and worker; each example in its
   own child process so its peak RSS is its own (aims of issue #6: healthcare, all 13
   phases, ≤ 5 s and ≤ 300 MB);
2. **distributed, offline model** — orchestrator + ``--hosts`` agent hosts + PostgreSQL +
   Redis (:class:`bench._stack.Stack`), the examples submitted over the API one after
   another;
3. and 4. **the same two with a slow model** — agents on ``--model anthropic`` against a
   local Messages API server that answers like the offline model after ``--delay-ms``
   (:mod:`bench._model_server`).

Per run: wall time (ledger ``run.started`` → end), per phase wall time and orchestration
overhead (phase wall time − time its agents were running, overlapping tasks counted
once), the critical path (longest chain of dependent agent work, :mod:`bench.critical_path`)
and parallel efficiency = critical path ÷ wall time (aim ≥ 0.9 with the slow model), with
the realized chain splitting the wall time into agent work, engine reaction, queue wait and
waits for a phase's parallelism slot.

Run: ``venv/bin/python -m bench.pipeline`` → ``bench/results/pipeline.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
from typing import Any

from bench._cli import add_results
from bench._pipeline_runs import NAMES, WARMUP, distributed, embedded
from bench._results import save

#: parallel efficiency the issue aims at (with the slow model)
EFFICIENCY_AIM = 0.9


def _child(name: str, delay_ms: int | None) -> dict[str, Any]:
    argv = [sys.executable, "-m", "bench.pipeline", "--child", name]
    if delay_ms is not None:
        argv.append(f"--child-delay-ms={delay_ms}")
    out = subprocess.run(argv, capture_output=True, text=True, check=True)
    row: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return row


def _print(title: str, rows: list[dict[str, Any]]) -> None:
    print(f"-- {title}")
    print(
        f"{'example':<22}{'status':<11}{'tasks':>6}{'wall s':>9}{'overhead s':>12}"
        f"{'crit. path s':>14}{'efficiency':>12}"
    )
    for r in rows:
        print(
            f"{r['example']:<22}{r['status']:<11}{r['tasks']:>6}{r['run_wall_s']:>9.2f}{r['overhead_s']:>12.2f}"
            f"{r['critical_path_s']:>14.2f}{r['parallel_efficiency']:>12.2f}"
        )


def measure(names: list[str], *, delay_ms: int, hosts: int, embedded_too: bool = True) -> dict[str, Any]:
    """All four measurements; the result file's content."""
    out: dict[str, Any] = {"hosts": hosts, "delay_ms": delay_ms, "warmup": WARMUP}
    out["examples"] = [_child(n, None) for n in names] if embedded_too else []
    out["distributed"] = asyncio.run(distributed(names, hosts=hosts))
    slow: dict[str, Any] = {"delay_ms": delay_ms}
    slow["embedded"] = [_child(n, delay_ms) for n in names] if embedded_too else []
    slow["distributed"] = asyncio.run(distributed(names, hosts=hosts, delay_s=delay_ms / 1000))
    out["slow_model"] = slow
    if out["examples"]:
        _print("embedded, offline model", out["examples"])
    _print(f"distributed ({hosts} agent hosts), offline model", out["distributed"])
    if slow["embedded"]:
        _print(f"embedded, model answering after {delay_ms} ms", slow["embedded"])
    _print(f"distributed ({hosts} agent hosts), model answering after {delay_ms} ms", slow["distributed"])
    aims: dict[str, Any] = {"parallel_efficiency_min": EFFICIENCY_AIM}
    health = next((r for r in out["examples"] if r["example"] == "healthcare-platform"), None)
    if health is not None:
        aims |= {
            "healthcare_wall_s_max": 5.0,
            "healthcare_rss_mb_max": 300.0,
            "healthcare_wall_s": health["run_wall_s"],
            "healthcare_peak_rss_mb": health["peak_rss_mb"],
        }
    aims["distributed_slow_efficiency"] = {
        r["example"]: r["parallel_efficiency"] for r in slow["distributed"]
    }
    out["aims"] = aims
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure, print the tables and write ``pipeline.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", default=",".join(NAMES), help=f"comma list of: {', '.join(NAMES)}")
    parser.add_argument("--delay-ms", type=int, default=300, help="slow model's added delay per call")
    parser.add_argument("--hosts", type=int, default=2, help="agent hosts of the distributed stack")
    parser.add_argument("--no-embedded", action="store_true", help="distributed measurements only")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-delay-ms", type=int, help=argparse.SUPPRESS)
    add_results(parser)
    args = parser.parse_args(argv)
    if args.child:  # one embedded run in this (child) process
        delay = None if args.child_delay_ms is None else args.child_delay_ms / 1000
        print(json.dumps(asyncio.run(embedded(args.child, delay, freeze_heap=True))))
        return {}
    names = [n for n in args.examples.split(",") if n]
    unknown = [n for n in names if n not in NAMES]
    if not names or unknown:
        parser.error(f"--examples takes a comma list of {', '.join(NAMES)}, not {args.examples!r}")
    if args.delay_ms < 0 or args.hosts < 1:
        parser.error("--delay-ms must be ≥ 0 and --hosts ≥ 1")
    summary = measure(names, delay_ms=args.delay_ms, hosts=args.hosts, embedded_too=not args.no_embedded)
    print(f"wrote {save('pipeline', summary, args.results)}")
    return summary


if __name__ == "__main__":
    main()
