"""The ceiling: a bare redis-py + asyncpg loop doing the same durable work per task.

What IdeaMine's distributed path could reach on this box if orchestration cost nothing
beyond the durable minimum. Per task, with synchronous commit:

1. **insert** the task row (in batches of ``--batch`` per transaction, as SubmitTasks does),
2. **XADD** its message to a Redis stream (pipelined per batch),
3. **XREADGROUP** it in one of ``--workers`` worker processes (as many as agent hosts),
4. **commit** result row + hash-chained ledger row + status SUCCEEDED in one statement
   (the run's chain head is locked and advanced, so commits to one run serialise just as
   IdeaMine's do; tasks are spread over ``--runs`` runs the same way),
5. **XACK** the entry.

Nothing else: no leases, fencing, idempotency keys, artifacts, outbox, events, notices or
gRPC. Completion is detected exactly as for IdeaMine (polling PostgreSQL every 0.1 s), so
the two figures are comparable. Queue wait = time read by a worker − row ``created_at``.

Run: ``venv/bin/python -m bench.ceiling [--tasks N]`` → ``bench/results/ceiling.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import subprocess
import sys
import time
import uuid
from typing import Any

from bench._cli import add_results
from bench._procs import terminate_all
from bench._results import save
from bench._stack import delete_prefix, fresh_database, poll, redis_url
from bench._stats import latency_ms

SCHEMA = """
CREATE TABLE c_tasks (id bigint PRIMARY KEY, run_id int NOT NULL, status text NOT NULL,
    input jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    started_at timestamptz, finished_at timestamptz);
CREATE INDEX c_tasks_open ON c_tasks (id) WHERE status <> 'SUCCEEDED';
CREATE TABLE c_results (task_id bigint PRIMARY KEY, output jsonb NOT NULL);
CREATE TABLE c_heads (run_id int PRIMARY KEY, seq bigint NOT NULL, hash text NOT NULL);
CREATE TABLE c_ledger (run_id int NOT NULL, seq bigint NOT NULL, hash text NOT NULL,
    body jsonb NOT NULL, PRIMARY KEY (run_id, seq));
"""

INSERT = """INSERT INTO c_tasks (id, run_id, status, input)
    SELECT i, i % $2, 'QUEUED', jsonb_build_object('seq', i) FROM unnest($1::bigint[]) AS i"""

COMMIT = """WITH h AS (
      UPDATE c_heads SET seq = seq + 1, hash = encode(sha256(convert_to(hash || $3::text, 'UTF8')), 'hex')
      WHERE run_id = $2 RETURNING seq, hash),
    t AS (UPDATE c_tasks SET status = 'SUCCEEDED', started_at = to_timestamp($5), finished_at = clock_timestamp()
      WHERE id = $1 AND status = 'QUEUED' RETURNING id),
    r AS (INSERT INTO c_results (task_id, output) SELECT id, $4::jsonb FROM t)
    INSERT INTO c_ledger (run_id, seq, hash, body) SELECT $2, h.seq, h.hash, $3::jsonb FROM h, t"""


async def worker(dsn: str, stream: str, consumer: str, pool_size: int, max_seconds: float) -> None:
    """Consume, commit, ack until SIGTERM or ``max_seconds``."""
    import asyncpg  # type: ignore[import-untyped]
    import redis.asyncio as aioredis

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    pool = await asyncpg.create_pool(dsn, min_size=pool_size, max_size=pool_size)
    r = aioredis.from_url(redis_url())
    deadline = time.monotonic() + max_seconds

    async def commit(fields: dict[bytes, bytes], read_at: float) -> None:
        task_id, run_id = int(fields[b"id"]), int(fields[b"run"])
        body = json.dumps({"type": "task.succeeded", "task": task_id})
        async with pool.acquire() as conn:
            await conn.execute(COMMIT, task_id, run_id, body, '{"ok": true}', read_at)

    await r.xgroup_createconsumer(stream, "g", consumer)  # announces this worker as ready
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            got: Any = await r.xreadgroup("g", consumer, {stream: ">"}, count=pool_size * 4, block=100)
            if not got:
                continue
            read_at = time.time()
            entries: list[tuple[bytes, dict[bytes, bytes]]] = got[0][1]
            await asyncio.gather(*(commit(fields, read_at) for _, fields in entries))
            await r.xack(stream, "g", *[eid for eid, _ in entries])
    finally:
        await r.aclose()
        await pool.close()


async def measure(n: int, *, runs: int, workers: int, pool_size: int, batch: int) -> dict[str, Any]:
    """Run the bare loop once over ``n`` tasks; returns throughput and queue-wait figures."""
    import asyncpg
    import redis.asyncio as aioredis

    prefix = f"ceiling{uuid.uuid4().hex[:8]}"
    stream = f"{prefix}:tasks"
    async with fresh_database(schema=False) as dsn:
        conn = await asyncpg.connect(dsn, server_settings={"synchronous_commit": "on"})
        r = aioredis.from_url(redis_url())
        procs: list[subprocess.Popen[bytes]] = []
        try:
            await conn.execute(SCHEMA)
            await conn.executemany("INSERT INTO c_heads VALUES ($1, 0, '')", [(i,) for i in range(runs)])
            await r.xgroup_create(stream, "g", id="0", mkstream=True)
            procs = [
                subprocess.Popen(
                    [sys.executable, "-m", "bench.ceiling", "--worker", dsn, stream, f"w{i}", str(pool_size)]
                )
                for i in range(workers)
            ]

            async def ready() -> bool:  # every worker has its pool and joined the group
                if any(p.poll() is not None for p in procs):
                    raise RuntimeError("a ceiling worker exited")
                return len(await r.xinfo_consumers(stream, "g")) == workers

            await poll(ready, within=60, what="ceiling workers reading")
            start = time.monotonic()
            for offset in range(0, n, batch):
                ids = list(range(offset, min(offset + batch, n)))
                async with conn.transaction():
                    await conn.execute(INSERT, ids, runs)
                pipe = r.pipeline(transaction=False)
                for i in ids:
                    pipe.xadd(stream, {"id": i, "run": i % runs})
                await pipe.execute()
            submitted = time.monotonic() - start

            async def done() -> bool:
                return not await conn.fetchval("SELECT count(*) FROM c_tasks WHERE status <> 'SUCCEEDED'")

            await poll(done, within=max(120.0, n / 50), what="ceiling tasks done", every=0.1)
            elapsed = time.monotonic() - start
            rows = await conn.fetch(
                "SELECT extract(epoch FROM started_at - created_at)::float8 AS w,"
                " extract(epoch FROM finished_at - created_at)::float8 AS d FROM c_tasks"
            )
            ledger = await conn.fetchval("SELECT count(*) FROM c_ledger")
        finally:
            terminate_all(procs)
            await conn.close()
            await r.aclose()
            await delete_prefix(prefix)
    if ledger != n:
        raise RuntimeError(f"ceiling wrote {ledger} ledger rows for {n} tasks")
    return {
        "tasks": n,
        "runs": runs,
        "workers": workers,
        "pool_per_worker": pool_size,
        "elapsed_s": round(elapsed, 3),
        "submit_s": round(submitted, 3),
        "tasks_per_s": round(n / elapsed, 1),
        "queue_wait_ms": latency_ms(r_["w"] for r_ in rows),
        "submit_to_done_ms": latency_ms(r_["d"] for r_ in rows),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure the ceiling, print it and write ``bench/results/ceiling.json``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", type=int, default=10_000)
    p.add_argument("--runs", type=int, default=100, help="ledger chains the tasks are spread over")
    p.add_argument("--workers", type=int, default=2, help="worker processes (as many as agent hosts)")
    p.add_argument("--pool", type=int, default=16, help="PostgreSQL connections per worker")
    p.add_argument("--batch", type=int, default=500, help="tasks per insert transaction")
    add_results(p)
    args = p.parse_args(argv)
    if min(args.tasks, args.runs, args.workers, args.pool, args.batch) < 1:
        p.error("--tasks, --runs, --workers, --pool and --batch must be positive")
    result = asyncio.run(
        measure(args.tasks, runs=args.runs, workers=args.workers, pool_size=args.pool, batch=args.batch)
    )
    print(
        f"ceiling (bare redis-py + asyncpg): {result['tasks_per_s']:.0f} tasks/s over {args.tasks} tasks; "
        f"queue wait p50 {result['queue_wait_ms']['p50']:.1f} ms, p99 {result['queue_wait_ms']['p99']:.1f} ms"
    )
    print(f"wrote {save('ceiling', {'ceiling': result}, args.results)}")
    return result


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--worker":
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(worker(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), max_seconds=1800))
    else:
        main()
