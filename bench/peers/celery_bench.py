"""Celery peer: the same no-op tasks through Celery with Redis as broker and result backend.

Runs in its own virtualenv (``bench/.venvs/celery``, ``celery[redis]>=5,<6``, created on
first use). Workers are separate processes, as IdeaMine's agent hosts are:

- ``--pool solo`` (default): ``--workers`` worker processes (2, like the two agent hosts),
  each running one task at a time in its consumer loop — Celery's fastest set-up for
  tasks that do nothing, since prefork adds a parent↔child pipe hop per task;
- ``--pool prefork``: one worker with ``--workers`` child processes.

The client sends every task with ``apply_async`` (one message each, as ``delay`` does),
then joins the results natively. Elapsed time runs from the first send to the last
result, exactly as IdeaMine's figure runs from the first SubmitTasks call to the last
durable completion. Queue wait = task start in the worker − send time in the client.
Celery's defaults are kept: early ack, results in Redis — nothing is written to a
database, so Celery does less durable work per task than IdeaMine.

Run: ``venv/bin/python -m bench.peers.celery_bench [--tasks N]`` →
``bench/results/celery.json`` (``bench.throughput`` runs it alongside the others).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from typing import Any

from bench._cli import add_results
from bench._procs import terminate_all
from bench._stats import latency_ms

REQUIREMENTS = ["celery[redis]>=5,<6"]
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def _workers(pool: str, count: int, env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    base = [sys.executable, "-m", "celery", "-A", "bench.peers._celery_app", "worker", "--loglevel=WARNING"]
    base += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    if pool == "solo":
        cmds = [[*base, "--pool=solo", f"--hostname=solo{i}@%h"] for i in range(count)]
    else:
        cmds = [[*base, "--pool=prefork", f"--concurrency={count}", "--hostname=prefork@%h"]]
    return [subprocess.Popen(c, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for c in cmds]


def measure(n: int, *, pool: str, workers: int) -> dict[str, Any]:
    """Send ``n`` no-op tasks, wait for every result; runs inside the Celery venv."""
    queue = f"bench-celery-{uuid.uuid4().hex[:8]}"
    os.environ["BENCH_CELERY_QUEUE"] = queue
    from celery.result import ResultSet  # type: ignore[import-not-found]

    from bench.peers._celery_app import app, noop

    procs = _workers(pool, workers, dict(os.environ))
    try:
        warm = ResultSet([noop.apply_async((time.time(),)) for _ in range(workers * 4)])
        warm.join_native(timeout=120)  # every worker is up and consuming
        warm.forget()
        start = time.monotonic()
        results = ResultSet([noop.apply_async((time.time(),)) for _ in range(n)])
        sent = time.monotonic() - start
        values = results.join_native(timeout=max(300.0, n / 20))
        elapsed = time.monotonic() - start
        results.forget()
    finally:
        terminate_all(procs)
        import redis

        r = redis.Redis.from_url(REDIS_URL)
        keys = list(r.scan_iter(match=f"*{queue}*", count=1000))
        if keys:
            r.delete(*keys)
        app.close()
    waits = [started - sent_at for sent_at, started in values]
    return {
        "system": "celery",
        "version": __import__("celery").__version__,
        "pool": pool,
        "workers": workers,
        "tasks": n,
        "elapsed_s": round(elapsed, 3),
        "send_s": round(sent, 3),
        "tasks_per_s": round(n / elapsed, 1),
        "queue_wait_ms": latency_ms(waits),
    }


def run(n: int, *, pool: str = "solo", workers: int = 2) -> dict[str, Any]:
    """Measure in the Celery venv (created on first use) from the main environment."""
    from bench.peers._venv import run_in_venv

    args = [f"--tasks={n}", f"--pool={pool}", f"--workers={workers}"]
    return run_in_venv("celery", REQUIREMENTS, "bench.peers.celery_bench", args, timeout=max(900.0, n / 10))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Command line: measure (inside the venv) or drive the venv and write the result."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", type=int, default=10_000)
    p.add_argument("--pool", choices=("solo", "prefork"), default="solo")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    add_results(p)
    args = p.parse_args(argv)
    if args.tasks < 1 or args.workers < 1:
        p.error("--tasks and --workers must be positive")
    if args.measure:
        result = measure(args.tasks, pool=args.pool, workers=args.workers)
        print(json.dumps(result))
        return result
    from bench._results import save

    result = run(args.tasks, pool=args.pool, workers=args.workers)
    print(
        f"celery ({args.pool}, {args.workers}): {result['tasks_per_s']:.0f} tasks/s over {args.tasks} tasks"
    )
    print(f"wrote {save('celery', {'celery': result}, args.results)}")
    return result


if __name__ == "__main__":
    main()
