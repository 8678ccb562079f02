"""Dispatch latency at a paced submission rate: submit→start and submit→done.

The distributed stack of :mod:`bench.throughput` (orchestrator + 2 agent hosts,
PostgreSQL, Redis). For each offered rate (``--rates``: 200 and 1,000 tasks/s as the
issue asks, and 20/s as a baseline below saturation)
the client submits no-op tasks for ``--seconds`` on a fixed tick (20 ms, or one task per
tick below 50/s) — each tick one SubmitTasks call of ``rate × tick`` tasks, round-robin
over the holder runs, at most
``--in-flight`` calls outstanding (when the server cannot keep up, ticks are skipped
and the *achieved* rate is reported next to the offered one). Then it waits, bounded,
until every task has finished.

- submit→start: the task row's ``started_at`` − the client's clock when it sent the call;
- submit→done: ``finished_at`` − the same send time.

Both include the SubmitTasks call itself (validation, the insert transaction, the outbox
relay to Redis). One clock: every process runs on this machine.

Run: ``venv/bin/python -m bench.latency`` → ``bench/results/latency.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import Any

from bench._cli import add_results, positive_ints
from bench._results import save
from bench._stack import Stack, poll
from bench._stats import latency_ms

TICK = 0.02
TARGET_P99_START_MS = 10.0


async def paced(
    stack: Stack, run_ids: list[str], rate: int, seconds: float, in_flight: int
) -> dict[str, Any]:
    """Offer ``rate`` tasks/s for ``seconds``; returns the latency figures."""
    tick = max(TICK, 1.0 / rate)  # low rates: one task per tick
    per_tick = max(1, round(rate * tick))
    sent: dict[str, float] = {}
    sem = asyncio.Semaphore(in_flight)
    pending: set[asyncio.Task[None]] = set()
    skipped = 0
    seq = 0

    async def call(run_id: str, first: int) -> None:
        try:
            at = time.time()
            tasks = await stack.submit([run_id], per_tick, first=first)
            for t in tasks:
                sent[t.id] = at
        finally:
            sem.release()

    loop = asyncio.get_running_loop()
    start = loop.time()
    ticks = int(seconds / tick)
    for i in range(ticks):
        await asyncio.sleep(max(0.0, start + i * tick - loop.time()))
        if sem.locked():
            skipped += 1
            continue
        await sem.acquire()
        t = asyncio.create_task(call(run_ids[i % len(run_ids)], seq))
        seq += per_tick
        pending.add(t)
        t.add_done_callback(pending.discard)
    if pending:
        await asyncio.gather(*pending)
    offered_for = loop.time() - start

    async def done() -> bool:
        return await stack.unfinished(run_ids) == 0

    await poll(done, within=max(120.0, len(sent) / 10), what=f"tasks at {rate}/s done", every=0.05)
    stamps = await stack.timestamps(list(sent))
    starts = [s - sent[i] for i, (_, s, _, _) in stamps.items()]
    dones = [f - sent[i] for i, (_, _, f, _) in stamps.items()]
    return {
        "offered_per_s": rate,
        "achieved_submit_per_s": round(len(sent) / offered_for, 1),
        "tasks": len(sent),
        "skipped_ticks": skipped,
        "seconds": seconds,
        "submit_to_start_ms": latency_ms(starts),
        "submit_to_done_ms": latency_ms(dones),
    }


async def measure(rates: list[int], *, seconds: float, runs: int, in_flight: int) -> dict[str, Any]:
    """All rates on one stack (the queue drains between rates)."""
    out: dict[str, Any] = {"load_before": os.getloadavg()}
    async with Stack(hosts=2, concurrency=32) as stack:
        run_ids = list(await asyncio.gather(*(stack.holder_run() for _ in range(runs))))
        for rate in rates:
            out[str(rate)] = await paced(stack, run_ids, rate, seconds, in_flight)
            r = out[str(rate)]
            print(
                f"  {rate}/s offered ({r['achieved_submit_per_s']:.0f}/s achieved, {r['tasks']} tasks): "
                f"submit→start p50 {r['submit_to_start_ms']['p50']:.1f} ms p99 {r['submit_to_start_ms']['p99']:.1f} ms; "
                f"submit→done p50 {r['submit_to_done_ms']['p50']:.1f} ms p99 {r['submit_to_done_ms']['p99']:.1f} ms",
                flush=True,
            )
    out["load_after"] = os.getloadavg()
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure, print and write ``bench/results/latency.json``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rates", default="20,200,1000", help="offered tasks/s, comma separated")
    p.add_argument("--seconds", type=float, default=5.0, help="how long each rate is offered")
    p.add_argument("--runs", type=int, default=10, help="runs the tasks are spread over")
    p.add_argument("--in-flight", type=int, default=8, help="most SubmitTasks calls outstanding")
    add_results(p)
    args = p.parse_args(argv)
    rates = positive_ints(p, "--rates", args.rates)
    if args.seconds <= 0 or min(args.runs, args.in_flight) < 1:
        p.error("--seconds, --runs and --in-flight must be positive")
    result = asyncio.run(measure(rates, seconds=args.seconds, runs=args.runs, in_flight=args.in_flight))
    result["target_p99_submit_to_start_ms_at_1000"] = TARGET_P99_START_MS
    print(f"wrote {save('latency', result, args.results)}")
    return result


if __name__ == "__main__":
    main()
