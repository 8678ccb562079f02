"""Agent-side costs (issue #5): offline generation, per-task host overhead, idle RSS.

1. **Offline generation** of the healthcare example's full artifact set (every catalogue
   type, per-story ones once per selected story), best of N — aim ≤ 1 s.
2. **Host overhead per task** around a no-op agent: ``TaskWorker.handle`` (load task,
   fence, start, build context, run, validate, commit, ack) minus the agent's own time,
   on the in-process queue, for the SQLite store and the PostgreSQL store — aim ≤ 1 ms
   excluding the queue (the store's synchronous commits dominate; both are reported).
3. **Idle RSS** of an agent-host process with every plugin loaded — aim ≤ 150 MB.

Run: ``venv/bin python -m bench.agents`` → ``bench/results/agents.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

from bench._common import write_result
from ideamine import AgentContext, Artifact, TaskDecl, TaskInfo, hookimpl
from ideamine.enums import TaskStatus

NOOP_SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}


class NoopAgent:
    """Returns one tiny artifact without calling a model."""

    name: ClassVar[str] = "bench-noop"
    version: ClassVar[str] = "1.0.0"
    phase: ClassVar[str] = "intake"
    tasks: ClassVar[dict[str, TaskDecl]] = {"noop": TaskDecl(produces=("bench-noop",))}
    consumes: ClassVar[tuple[str, ...]] = ()
    schemas: ClassVar[dict[str, Any]] = {"bench-noop": NOOP_SCHEMA}
    busy = 0.0

    async def run(self, context: AgentContext, task: TaskInfo) -> list[Artifact]:
        t = time.perf_counter()
        out = [Artifact("bench-noop", {"ok": True}, "none")]
        type(self).busy += time.perf_counter() - t
        return out


class _Plugin:
    @hookimpl
    def ideamine_register_agents(self) -> list[type[Any]]:
        return [NoopAgent]


async def offline_generation(rounds: int) -> dict[str, Any]:
    """Best and median wall time of generating the healthcare artifact set offline."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.artifacts.pipeline import load_idea, run_pipeline

    idea = load_idea("healthcare-platform")
    times, count = [], 0
    for _ in range(rounds):
        t = time.perf_counter()
        run = await run_pipeline(idea)
        times.append(time.perf_counter() - t)
        count = len(run.artifacts) if hasattr(run, "artifacts") else count
    return {"best_s": min(times), "median_s": statistics.median(times), "artifacts": count, "aim_s": 1.0}


async def host_overhead(store_url: str, n: int) -> dict[str, Any]:
    """Mean ms per no-op task through TaskWorker.handle, minus the agent's own time."""
    from agent_host.worker import TaskWorker
    from ideamine.ids import new_id
    from ideamine.llm.offline import OfflineProvider
    from ideamine.plugins import AgentRegistry, get_plugin_manager
    from ideamine.queue import open_queue
    from ideamine.queue.reconciler import Reconciler
    from ideamine.store.factory import open_store
    from ideamine.store.records import BudgetLimits, NewRun, NewTask

    store = await open_store(store_url)
    queue = open_queue("memory://")
    await queue.ensure()
    registry = AgentRegistry.from_plugin_manager(
        get_plugin_manager(load_entrypoints=False, extra=[_Plugin()])
    )
    worker = TaskWorker(
        store=store, queue=queue, registry=registry, provider=OfflineProvider(), consumer="bench"
    )
    per_run = 10  # a run-sized context: each task lists its run's artifacts, as in a real phase
    all_runs = []
    for r in range(0, n, per_run):
        run = await store.create_run(
            NewRun(
                tenant="bench",
                title="bench",
                idea={"text": "bench"},
                phases=("intake",),
                budget=BudgetLimits(),
            )
        )
        all_runs.append(run.id)
        batch = [
            NewTask(run.id, "intake", f"noop:{i}", "bench-noop", "1.0.0", new_id(), {"task": "noop"})
            for i in range(r, min(r + per_run, n))
        ]
        await store.create_tasks(batch)
    await Reconciler(store, queue).publish_outbox()
    NoopAgent.busy = 0.0
    handled, wall = 0, 0.0
    while handled < n:  # in batches: the queue caps unacknowledged deliveries per consumer
        deliveries = await queue.consume("bench", count=min(256, n - handled))
        if not deliveries:
            raise RuntimeError(f"the queue holds {n - handled} fewer tasks than were published")
        t = time.perf_counter()
        for d in deliveries:  # one at a time: the per-task path, not throughput
            await worker.handle(d)
        wall += time.perf_counter() - t
        handled += len(deliveries)
    done = [x for rid in all_runs for x in await store.list_tasks(rid) if x.status is TaskStatus.SUCCEEDED]
    await queue.close()
    await store.close()
    assert len(done) == n, f"{len(done)} of {n} tasks succeeded"
    return {"tasks": n, "ms_per_task": (wall - NoopAgent.busy) / n * 1000, "aim_ms": 1.0}


def idle_rss_mb() -> float:
    """RSS of a fresh process that loaded every plugin and the agent host, in MB."""
    code = (
        "import agent_host.worker, ideamine.llm.offline, ideamine.llm.anthropic_provider\n"
        "from ideamine.plugins import AgentRegistry, get_plugin_manager\n"
        "AgentRegistry.from_plugin_manager(get_plugin_manager())\n"
        "print([l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip()) / 1024


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the three measurements, print them and write the JSON."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", type=int, default=300)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = p.parse_args(argv)
    gen = asyncio.run(offline_generation(args.rounds))
    print(
        f"offline healthcare artifact set: best {gen['best_s'] * 1000:.0f} ms, median {gen['median_s'] * 1000:.0f} ms"
    )
    overhead: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as d:
        overhead["sqlite"] = asyncio.run(host_overhead(f"sqlite:///{d}/bench.sqlite3", args.tasks))
    try:
        overhead["postgres"] = asyncio.run(_pg(args.pg_url, args.tasks))
    except OSError as exc:
        overhead["postgres"] = {"skipped": f"PostgreSQL not reachable: {exc}"}
    for k, v in overhead.items():
        print(
            f"host overhead per no-op task ({k}): "
            + (f"{v['ms_per_task']:.2f} ms" if "ms_per_task" in v else v["skipped"])
        )
    rss = idle_rss_mb()
    print(f"agent host idle RSS: {rss:.0f} MB")
    result = {
        "offline_generation": gen,
        "host_overhead": overhead,
        "idle_rss_mb": rss,
        "idle_rss_aim_mb": 150,
    }
    print(f"wrote {write_result('agents', result)}")
    return result


async def _pg(admin_url: str, n: int) -> dict[str, Any]:
    """The overhead on a fresh, migrated PostgreSQL database (dropped afterwards)."""
    import asyncpg  # type: ignore[import-untyped]

    from ideamine.store.migrate import migrate

    name = f"bench_agents_{int(time.time())}"
    conn = await asyncpg.connect(admin_url)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        await migrate(url)
        return await host_overhead(url, n)
    finally:
        conn = await asyncpg.connect(admin_url)
        await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await conn.close()


if __name__ == "__main__":
    main()
