"""Recovery: kill -9 an agent host holding 100 tasks; time until all run elsewhere, and until done.

1. A stack with one agent host (the *victim*, ``--tasks`` slots) takes ``--tasks`` no-op
   tasks whose first attempt sleeps ``--sleep`` seconds, and the bench waits until every
   one of them is RUNNING on it.
2. A second host (the *survivor*) starts and registers.
3. SIGKILL to the victim: no drain, no deregistration; its task leases and its pending
   Redis entries are left to the orchestrator and the survivor.
4. The clock runs from the kill until the last task's new attempt has started on the
   survivor (``started_at`` of attempt ≥ 2) and until the last one has SUCCEEDED (a
   re-run does not sleep, so the second figure is recovery, not work).

The victim's liveness lock (a PostgreSQL session lock) ends with its process, and the
orchestrator's lost-worker sweep re-queues its tasks once the lock has stayed free for
``--lost-worker-seconds`` (5 s) — whatever the task lease. The lease
(``--lease-seconds``, default the catalogue's 15 s) only matters when that path cannot
tell (a frozen host); the full bench runs the default and a 5 s lease to show both.

Run: ``venv/bin/python -m bench.recovery [--lease-seconds S]`` → ``bench/results/recovery.json``.
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

TARGET_S = 15.0


async def measure_on(stack: Stack, n: int, *, sleep_s: float) -> dict[str, Any]:
    """One kill on a stack whose only live host has at least ``n`` slots; returns seconds.

    The stack is left with the survivor as its only live host.
    """
    run_id = await stack.holder_run()
    ids = [t.id for t in await stack.submit([run_id], n, sleep_s=sleep_s)]

    async def all_running() -> bool:
        return sum(1 for v in (await stack.timestamps(ids)).values() if v[3] == "RUNNING") == n

    await poll(all_running, within=120, what=f"{n} tasks running on the victim")
    victim = next(p for p in stack.host_procs if p.alive())
    stack.add_host()
    await stack.wait_registered(2)
    if any(v[3] != "RUNNING" for v in (await stack.timestamps(ids)).values()):
        raise RuntimeError(f"--sleep {sleep_s} is too short: tasks finished before the kill")
    killed_at = time.time()
    victim.kill9()

    async def all_done() -> bool:
        return all(v[3] == "SUCCEEDED" for v in (await stack.timestamps(ids)).values())

    await poll(all_done, within=300, what="every task of the killed host done elsewhere", every=0.05)
    rows = await stack.db.fetch(
        "SELECT attempt, extract(epoch FROM started_at)::float8 AS s,"
        " extract(epoch FROM finished_at)::float8 AS f FROM tasks WHERE id = ANY($1::uuid[])",
        ids,
    )
    moved = [r for r in rows if r["attempt"] >= 2]
    return {
        "tasks": n,
        "moved": len(moved),
        "all_running_elsewhere_s": round(max(r["s"] for r in rows) - killed_at, 3),
        "all_done_s": round(max(r["f"] for r in rows) - killed_at, 3),
        "first_running_elsewhere_s": round(min(r["s"] for r in moved) - killed_at, 3) if moved else None,
        "target_s": TARGET_S,
    }


async def measure(n: int, *, sleep_s: float, lease: float | None, heartbeat: float | None) -> dict[str, Any]:
    """One kill on a fresh stack (victim with ``n`` slots); returns the recovery times."""
    async with Stack(hosts=1, concurrency=n, lease_seconds=lease, heartbeat_seconds=heartbeat) as stack:
        result = await measure_on(stack, n, sleep_s=sleep_s)
    return {
        **result,
        "lease_seconds": lease if lease is not None else "catalogue default (15)",
        "heartbeat_seconds": heartbeat if heartbeat is not None else "catalogue default (5)",
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure, print and write ``bench/results/recovery.json``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", type=int, default=100)
    p.add_argument("--sleep", type=float, default=90.0, help="first-attempt sleep (outlasts the kill)")
    p.add_argument(
        "--lease-seconds", type=float, action="append", help="task lease (repeat for several runs)"
    )
    p.add_argument("--heartbeat-seconds", type=float, help="default: a third of the lease")
    add_results(p)
    args = p.parse_args(argv)
    if args.tasks < 1 or args.sleep <= 0 or any(x <= 0 for x in args.lease_seconds or []):
        p.error("--tasks, --sleep and --lease-seconds must be positive")
    out: dict[str, Any] = {"load_before": os.getloadavg(), "runs": []}
    for lease in args.lease_seconds or [None]:
        beat = args.heartbeat_seconds or (lease / 3 if lease is not None else None)
        r = asyncio.run(measure(args.tasks, sleep_s=args.sleep, lease=lease, heartbeat=beat))
        out["runs"].append(r)
        print(
            f"  lease {r['lease_seconds']}: all {r['tasks']} tasks running elsewhere after "
            f"{r['all_running_elsewhere_s']:.1f} s, all done after {r['all_done_s']:.1f} s (target {TARGET_S:.0f} s)",
            flush=True,
        )
    out["load_after"] = os.getloadavg()
    print(f"wrote {save('recovery', out, args.results)}")
    return out


if __name__ == "__main__":
    main()
