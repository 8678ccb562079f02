"""No-op fan-out throughput: IdeaMine distributed, side by side with Celery, Temporal and the ceiling.

**IdeaMine**: ``ideamine serve orchestrator`` + ``--hosts`` (2) ``ideamine serve agent-host``
processes over PostgreSQL and Redis, every state change durable (synchronous commit).
``--tasks`` no-op tasks (the ``bench-noop`` plugin agent) are submitted through
``TaskService.SubmitTasks`` — one call per run and at most 500 tasks, four calls in
flight — spread over ``--runs`` runs (each a finished one-phase intake run; a run's
ledger is one hash chain, so its commits serialise). Elapsed = first SubmitTasks call →
last task SUCCEEDED in PostgreSQL (polled every 0.1 s). Queue wait = ``started_at`` −
``created_at`` of each task row. CPU seconds of every service process are recorded.

**Peers**, same box, same run, right after: Celery (:mod:`bench.peers.celery_bench`;
two solo workers and one prefork worker with two children are both measured, the
faster is compared),
Temporal one-workflow fan-out and one-workflow-per-task
(:mod:`bench.peers.temporal_bench`), and the bare redis-py + asyncpg loop
(:mod:`bench.ceiling`). Ratios printed: ours/Celery, ours/Temporal (each mode),
ours/ceiling.

Run: ``venv/bin/python -m bench.throughput [--tasks N] [--peers celery,temporal,ceiling]``
→ ``bench/results/throughput.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import Any

from bench._cli import add_results
from bench._results import save
from bench._stack import Stack, poll
from bench._stats import latency_ms, ratio

PEERS = ("ceiling", "celery", "temporal")
TARGETS = {"tasks_per_s": 5000, "vs_celery": 3.0, "vs_temporal": 5.0, "vs_ceiling": 0.5}


async def measure_stack(stack: Stack, n: int, runs: int) -> dict[str, Any]:
    """Submit ``n`` no-op tasks over ``runs`` holder runs of a started stack; wait; return figures."""
    run_ids = list(await asyncio.gather(*(stack.holder_run() for _ in range(runs))))
    cpu0 = {p.name: p.cpu_seconds() for p in stack.procs}
    start = time.monotonic()
    tasks = await stack.submit(run_ids, n)
    submitted = time.monotonic() - start

    async def done() -> bool:
        return await stack.unfinished(run_ids) == 0

    await poll(done, within=max(300.0, n / 5), what=f"{n} tasks done", every=0.1)
    elapsed = time.monotonic() - start
    cpu = {p.name: round(p.cpu_seconds() - cpu0[p.name], 2) for p in stack.procs}
    stamps = list((await stack.timestamps([t.id for t in tasks])).values())
    bad = [s for s in stamps if s[3] != "SUCCEEDED"]
    if bad or len(stamps) != n:
        raise RuntimeError(f"{len(bad)} of {len(stamps)} tasks did not succeed")
    return {
        "tasks": n,
        "runs": runs,
        "hosts": len(stack.host_procs),
        "concurrency_per_host": stack.concurrency,
        "elapsed_s": round(elapsed, 3),
        "submit_s": round(submitted, 3),
        "tasks_per_s": round(n / elapsed, 1),
        "queue_wait_ms": latency_ms(s - c for c, s, _, _ in stamps),
        "submit_to_done_ms": latency_ms(f - c for c, _, f, _ in stamps),
        "cpu_s": cpu,
        "cpu_ms_per_task": round(sum(cpu.values()) / n * 1000, 3),
    }


async def ours(n: int, *, runs: int, hosts: int, concurrency: int) -> dict[str, Any]:
    """IdeaMine's distributed path on a fresh stack."""
    async with Stack(hosts=hosts, concurrency=concurrency) as stack:
        return await measure_stack(stack, n, runs)


def peers(n: int, which: list[str], *, runs: int) -> dict[str, Any]:
    """The peers' figures (each in its own venv or process); an error is recorded, not raised."""
    from bench import ceiling
    from bench.peers import celery_bench, temporal_bench

    out: dict[str, Any] = {}
    for name in which:
        try:
            if name == "ceiling":
                out[name] = asyncio.run(ceiling.measure(n, runs=runs, workers=2, pool_size=16, batch=500))
            elif name == "celery":  # both worker set-ups; the faster one is compared
                pools = {pool: celery_bench.run(n, pool=pool) for pool in ("solo", "prefork")}
                best = max(pools.values(), key=lambda r: float(r["tasks_per_s"]))
                out[name] = {**best, "tasks_per_s_by_pool": {k: v["tasks_per_s"] for k, v in pools.items()}}
            elif name == "temporal":
                out[name] = temporal_bench.run(n, modes=list(temporal_bench.MODES))
        except Exception as exc:  # a peer that cannot run must not hide the others' numbers
            out[name] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
        print(f"  {name}: {_rate(out[name])}", flush=True)
    return out


def _rate(r: dict[str, Any]) -> str:
    if "error" in r:
        return "failed: " + str(r["error"]).splitlines()[0]
    if "tasks_per_s" in r:
        return f"{r['tasks_per_s']:.0f} tasks/s"
    modes = ((k, v) for k, v in r.items() if isinstance(v, dict))
    return ", ".join(f"{k} {_rate(v)}" for k, v in modes)


def ratios(result: dict[str, Any]) -> dict[str, float | None]:
    """ours / each peer, by tasks per second."""
    mine = result["ours"]["tasks_per_s"]
    out: dict[str, float | None] = {}
    for name, r in result.get("peers", {}).items():
        if name == "temporal":
            for mode in ("fanout", "workflows"):
                out[f"ours/temporal_{mode}"] = ratio(mine, r.get(mode, {}).get("tasks_per_s"))
        else:
            out[f"ours/{name}"] = ratio(mine, r.get("tasks_per_s"))
    return out


def report(result: dict[str, Any]) -> None:
    """Print the comparison table."""
    o = result["ours"]
    print(
        f"\nno-op fan-out, {o['tasks']} tasks, {o['hosts']} agent hosts × {o['concurrency_per_host']} slots:"
    )
    rows = [("ideamine (distributed, durable)", o)]
    for name, r in result.get("peers", {}).items():
        if name == "temporal" and "error" not in r:
            rows += [
                (f"temporal {m}", r[m]) for m in ("fanout", "workflows") if "tasks_per_s" in r.get(m, {})
            ]
        elif "error" not in r:
            rows.append((name, r))
    for label, r in rows:
        w = r["queue_wait_ms"]
        print(
            f"  {label:34s} {r['tasks_per_s']:9.1f} tasks/s   queue wait p50 {w['p50']:9.1f} ms  p99 {w['p99']:9.1f} ms"
        )
    for k, v in result["ratios"].items():
        print(f"  {k:34s} {'n/a' if v is None else f'{v:.2f}×'}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure, print and write ``bench/results/throughput.json``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", type=int, default=10_000)
    p.add_argument("--runs", type=int, default=100, help="runs the tasks are spread over")
    p.add_argument("--hosts", type=int, default=2)
    p.add_argument("--concurrency", type=int, default=32, help="task slots per agent host")
    p.add_argument("--peers", default=",".join(PEERS), help="comma list of ceiling,celery,temporal (or none)")
    add_results(p)
    args = p.parse_args(argv)
    if min(args.tasks, args.runs, args.hosts, args.concurrency) < 1:
        p.error("--tasks, --runs, --hosts and --concurrency must be positive")
    which = [x for x in args.peers.split(",") if x and x != "none"]
    if any(x not in PEERS for x in which):
        p.error(f"--peers takes {', '.join(PEERS)} or none")
    result: dict[str, Any] = {
        "ours": asyncio.run(ours(args.tasks, runs=args.runs, hosts=args.hosts, concurrency=args.concurrency)),
        "targets": TARGETS,
        "load_before": os.getloadavg(),
    }
    print(f"  ideamine: {_rate(result['ours'])}", flush=True)
    result["peers"] = peers(args.tasks, which, runs=args.runs)
    result["ratios"] = ratios(result)
    report(result)
    print(f"wrote {save('throughput', result, args.results)}")
    return result


if __name__ == "__main__":
    main()
