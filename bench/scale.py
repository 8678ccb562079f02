"""Scale: throughput with 1, 2 and 4 agent hosts; orchestrator memory with 1,000 concurrent runs.

**Hosts**: the no-op fan-out of :mod:`bench.throughput` (``--tasks`` tasks over
``--runs`` runs) at each host count, each on a fresh stack, everything else equal.

**Memory**: one orchestrator replica allowed to hold ``--concurrent-runs`` runs
(started through :mod:`bench._orchestrator`, since ``ideamine serve orchestrator`` caps a
replica at 100) and no agent host, so every run stays in flight: each is adopted, plans
its intake phase, publishes its tasks and waits for them. The bench creates the runs
over the API, waits until the replica holds a lease on all of them (or their number
stops growing for 30 s: renewing a lease is one round trip per run, so a replica may
not keep up with many runs), then samples the orchestrator's RSS and the held-run count
for ``--hold`` seconds; the peak (``VmHWM``) and the idle RSS before the first run are
reported.

Run: ``venv/bin/python -m bench.scale`` → ``bench/results/scale.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import Any

from bench._cli import add_results, positive_ints
from bench._results import save
from bench._stack import Stack, proc_rss_mb
from bench.throughput import measure_stack


async def hosts_curve(counts: list[int], n: int, runs: int, concurrency: int) -> dict[str, Any]:
    """Throughput per host count, each on a fresh stack (an empty database every time)."""
    out: dict[str, Any] = {}
    for count in counts:
        async with Stack(hosts=count, concurrency=concurrency) as stack:
            out |= await grow(stack, [count], n, runs)
    return out


async def grow(stack: Stack, counts: list[int], n: int, runs: int) -> dict[str, Any]:
    """Measure at each host count, adding hosts to ``stack`` in between."""
    out: dict[str, Any] = {}
    for count in sorted(counts):
        while sum(p.alive() for p in stack.host_procs) < count:
            stack.add_host()
        await stack.wait_registered(count)
        out[str(count)] = await measure_stack(stack, n, runs)
        print(f"  {count} agent host(s): {out[str(count)]['tasks_per_s']:.1f} tasks/s", flush=True)
    return out


async def memory(runs: int, hold: float) -> dict[str, Any]:
    """Orchestrator RSS with ``runs`` runs held and in flight (fresh stack, no agent host)."""
    async with Stack(hosts=0, max_active_runs=runs) as stack:
        return await memory_on(stack, runs, hold)


async def memory_on(stack: Stack, runs: int, hold: float) -> dict[str, Any]:
    """Create ``runs`` runs on ``stack``, wait until its orchestrator holds them all, sample RSS."""
    from ideamine._proto.ideamine.v1 import common_pb2, run_pb2

    pid = stack.orchestrator.pid
    idle = proc_rss_mb(pid)
    sem = asyncio.Semaphore(16)

    async def create(i: int) -> None:
        async with sem:
            await stack.client.create_run(
                run_pb2.Run(
                    title=f"bench memory {i}",
                    idea=f"Benchmark run {i}: a product idea that waits for its intake agents.",
                    requested_phases=[common_pb2.PHASE_INTAKE],
                )
            )

    start = time.monotonic()
    await asyncio.gather(*(create(i) for i in range(runs)))
    created_s = time.monotonic() - start

    async def held() -> int:
        count = await stack.db.fetchval(
            "SELECT count(*) FROM run_leases l JOIN runs r ON r.id = l.run_id"
            " WHERE l.expires_at > now() AND r.status = 'RUNNING'"
        )
        return int(count)

    # wait until the replica holds every run, or its count stops growing for 30 s
    most, best_at, deadline = 0, time.monotonic(), time.monotonic() + max(120.0, runs / 5)
    while (now := await held()) < runs and time.monotonic() < deadline and time.monotonic() - best_at < 30:
        if now > most:
            most, best_at = now, time.monotonic()
        await asyncio.sleep(1.0)
    held_s = time.monotonic() - start
    samples, counts = [], []
    end = time.monotonic() + hold
    while time.monotonic() < end:
        samples.append(proc_rss_mb(pid))
        counts.append(await held())
        await asyncio.sleep(0.5)
    peak = proc_rss_mb(pid, "VmHWM")
    statuses = dict(await stack.db.fetch("SELECT status, count(*) FROM runs GROUP BY status"))
    tasks = await stack.db.fetchval("SELECT count(*) FROM tasks")
    return {
        "concurrent_runs": runs,
        "tasks_waiting": int(tasks),
        "idle_rss_mb": round(idle, 1),
        "rss_mb_while_held": round(max(samples, default=0.0), 1),
        "peak_rss_mb": round(peak, 1),
        "per_run_kb": round((max(samples, default=idle) - idle) * 1024 / runs, 1),
        "held_while_sampling": [min(counts, default=0), max(counts, default=0)],
        "run_statuses": {str(k): int(v) for k, v in statuses.items()},
        "create_s": round(created_s, 2),
        "sampling_began_after_s": round(held_s, 2),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure, print and write ``bench/results/scale.json``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hosts", default="1,2,4", help="agent-host counts, comma separated")
    p.add_argument("--tasks", type=int, default=3000)
    p.add_argument("--runs", type=int, default=30, help="runs the throughput tasks are spread over")
    p.add_argument("--concurrency", type=int, default=32, help="task slots per agent host")
    p.add_argument("--concurrent-runs", type=int, default=1000)
    p.add_argument("--hold", type=float, default=10.0, help="seconds of RSS sampling once all runs are held")
    add_results(p)
    args = p.parse_args(argv)
    counts = positive_ints(p, "--hosts", args.hosts)
    if min(args.tasks, args.runs, args.concurrency, args.concurrent_runs) < 1 or args.hold < 0:
        p.error("--tasks, --runs, --concurrency and --concurrent-runs must be positive")
    out: dict[str, Any] = {"load_before": os.getloadavg()}
    out["hosts"] = asyncio.run(hosts_curve(counts, args.tasks, args.runs, args.concurrency))
    out["memory"] = asyncio.run(memory(args.concurrent_runs, args.hold))
    m = out["memory"]
    print(
        f"  orchestrator with {m['concurrent_runs']} concurrent runs: RSS {m['rss_mb_while_held']:.0f} MB "
        f"(idle {m['idle_rss_mb']:.0f} MB, peak {m['peak_rss_mb']:.0f} MB, {m['per_run_kb']:.0f} KB per run)"
    )
    out["load_after"] = os.getloadavg()
    print(f"wrote {save('scale', out, args.results)}")
    return out


if __name__ == "__main__":
    main()
