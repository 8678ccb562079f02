"""Store throughput: task completions per second, PostgreSQL and SQLite.

Run with ``venv/bin/python -m bench.store`` (needs the PostgreSQL started by
``scripts/services up``, or ``--pg-url``). Prints a table and writes
``bench/results/store.json``.

One *completion* is what an agent host does when a task finishes:
``commit_task_result`` on a RUNNING task = result row + one artifact + one ledger row +
status change + one outbox notice, in one transaction, with synchronous commit.
Setup (runs, tasks, starting them) is not timed.

Scenarios per backend:

- ``single``: one caller, completions one after another (one transaction each).
- ``concurrent``: ``--concurrency`` callers sharing the store's pool, each committing
  single completions — the protocol's batching, since ``RunStore`` has no batch
  method. Tasks are spread over as many runs as callers: a run's ledger is one hash
  chain, so commits to *one* run serialise on its chain head by design.
- ``batched-extension`` (PostgreSQL only): ``PostgresRunStore.commit_task_results`` with
  ``--batch`` completions per transaction.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from ideamine.ids import new_id
from ideamine.store.base import RunStore
from ideamine.store.factory import open_store
from ideamine.store.migrate import migrate
from ideamine.store.postgres import Completion, PostgresRunStore
from ideamine.store.records import BudgetLimits, Event, NewArtifact, NewRun, NewTask, TaskRecord

RESULTS = Path(__file__).with_name("results") / "store.json"


def _artifact(i: int) -> NewArtifact:
    return NewArtifact("idea_spec", {"title": f"idea {i}", "summary": "x" * 200, "n": i}, "offline")


async def _started_tasks(store: RunStore, n: int, runs: int) -> list[TaskRecord]:
    """``n`` RUNNING tasks spread round-robin over ``runs`` new runs (untimed setup)."""
    run_ids = []
    for _ in range(runs):
        run = await store.create_run(
            NewRun(
                tenant="bench",
                title="bench",
                idea={"text": "bench"},
                phases=("intake",),
                budget=BudgetLimits(),
            ),
            events=[Event("run.created")],
        )
        run_ids.append(run.id)
    news = [
        NewTask(run_ids[i % runs], "intake", f"t:{i}", "intake-agent", "1", f"idem-{new_id()}", {"i": i})
        for i in range(n)
    ]
    tasks: list[TaskRecord] = []
    for offset in range(0, n, 500):
        tasks.extend(await store.create_tasks(news[offset : offset + 500]))
    sem = asyncio.Semaphore(8)

    async def start(t: TaskRecord) -> TaskRecord:
        async with sem:
            return await store.start_task(t.id, attempt=1, worker="bench", lease_seconds=600)

    return list(await asyncio.gather(*(start(t) for t in tasks)))


async def _commit(store: RunStore, t: TaskRecord, i: int) -> None:
    await store.commit_task_result(
        t.id,
        attempt=1,
        output={"ok": True},
        artifacts=[_artifact(i)],
        events=[Event("task.succeeded", {"agent": t.agent}, phase=t.phase, task_id=t.id)],
        notice={"task_id": t.id, "status": "SUCCEEDED"},
    )


async def _single(store: RunStore, tasks: Sequence[TaskRecord]) -> float:
    began = time.perf_counter()
    for i, t in enumerate(tasks):
        await _commit(store, t, i)
    return len(tasks) / (time.perf_counter() - began)


async def _concurrent(store: RunStore, tasks: Sequence[TaskRecord], concurrency: int) -> float:
    lanes = [tasks[i::concurrency] for i in range(concurrency)]

    async def lane(items: Sequence[TaskRecord]) -> None:
        for i, t in enumerate(items):
            await _commit(store, t, i)

    began = time.perf_counter()
    await asyncio.gather(*(lane(items) for items in lanes))
    return len(tasks) / (time.perf_counter() - began)


async def _batched(
    store: PostgresRunStore, tasks: Sequence[TaskRecord], batch: int, concurrency: int
) -> float:
    chunks = [tasks[i : i + batch] for i in range(0, len(tasks), batch)]
    sem = asyncio.Semaphore(concurrency)

    async def commit(chunk: Sequence[TaskRecord]) -> None:
        async with sem:
            await store.commit_task_results(
                [
                    Completion(
                        t.id,
                        1,
                        {"ok": True},
                        [_artifact(i)],
                        [Event("task.succeeded", {"agent": t.agent}, phase=t.phase, task_id=t.id)],
                        {"task_id": t.id, "status": "SUCCEEDED"},
                    )
                    for i, t in enumerate(chunk)
                ]
            )

    began = time.perf_counter()
    await asyncio.gather(*(commit(c) for c in chunks))
    return len(tasks) / (time.perf_counter() - began)


async def _verify(store: RunStore, tasks: Sequence[TaskRecord]) -> None:
    """The numbers only count if every commit landed and every chain still verifies."""
    for run_id in sorted({t.run_id for t in tasks}):
        check = await store.verify_ledger(run_id)
        assert check.ok, f"ledger of {run_id} broken: {check.reason}"
    missing = [t.id for t in tasks[:50] if (await store.get_task_result(t.idempotency_key)) is None]
    assert not missing, f"completions missing: {missing}"


async def bench_postgres(pg_url: str, n: int, concurrency: int, batch: int) -> dict[str, Any]:
    """Run the scenarios on a fresh, migrated PostgreSQL database (dropped afterwards)."""
    name = f"ideamine_bench_{new_id().replace('-', '')}"
    admin = await asyncpg.connect(pg_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = pg_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        await migrate(dsn)
        store = PostgresRunStore(dsn, min_size=concurrency, max_size=concurrency)
        await store.open()
        try:
            settings = await store._db.read(
                lambda c: c.fetch(
                    "SELECT name, setting FROM pg_settings WHERE name = ANY($1)",
                    ["synchronous_commit", "fsync", "server_version"],
                )
            )
            out: dict[str, Any] = {"settings": {r["name"]: r["setting"] for r in settings}}
            tasks = await _started_tasks(store, n, 1)
            out["single_per_s"] = await _single(store, tasks)
            await _verify(store, tasks)
            tasks = await _started_tasks(store, n * 4, concurrency)
            out["concurrent_per_s"] = await _concurrent(store, tasks, concurrency)
            await _verify(store, tasks)
            tasks = await _started_tasks(store, n * 4, concurrency)
            out["batched_extension_per_s"] = await _batched(store, tasks, batch, max(2, concurrency // 4))
            await _verify(store, tasks)
            return out
        finally:
            await store.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def bench_sqlite(n: int, concurrency: int) -> dict[str, Any]:
    """Run the single and concurrent scenarios on a fresh SQLite file."""
    with tempfile.TemporaryDirectory() as tmp:
        store = await open_store(f"sqlite:///{tmp}/bench.db")
        try:
            tasks = await _started_tasks(store, n, 1)
            out: dict[str, Any] = {"single_per_s": await _single(store, tasks)}
            await _verify(store, tasks)
            tasks = await _started_tasks(store, n, concurrency)
            out["concurrent_per_s"] = await _concurrent(store, tasks, concurrency)
            await _verify(store, tasks)
            return out
        finally:
            await store.close()


async def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Parse arguments, run every scenario, print a table and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("-n", type=int, default=3000, help="completions per single-caller scenario")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    results: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "params": {"n": args.n, "concurrency": args.concurrency, "batch": args.batch},
        "unit": "task completions per second (result + artifact + ledger row + status + outbox notice)",
        "postgres": await bench_postgres(args.pg_url, args.n, args.concurrency, args.batch),
    }
    try:
        results["sqlite"] = await bench_sqlite(args.n, args.concurrency)
    except ImportError as exc:  # the SQLite backend is another engineer's; the bench must still run
        results["sqlite"] = {"skipped": f"SQLite backend not importable: {exc}"}

    results["machine"]["loadavg_1m_at_end"] = os.getloadavg()[0]
    print(f"{'backend':<10} {'scenario':<20} {'completions/s':>14}")
    for backend in ("postgres", "sqlite"):
        for key, value in results[backend].items():
            if key.endswith("_per_s"):
                print(f"{backend:<10} {key.removesuffix('_per_s'):<20} {value:>14,.0f}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    asyncio.run(main())
