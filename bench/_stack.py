"""The distributed stack the benchmarks measure: real processes on loopback.

:class:`Stack` starts what a deployment runs — ``ideamine serve orchestrator`` and N
``ideamine serve agent-host`` processes — over a fresh, migrated PostgreSQL database and
a unique Redis key prefix, waits until every process is SERVING and every host has
registered the no-op agent, and tears all of it down afterwards (database dropped,
Redis keys deleted). Agent hosts get the no-op plugin (:mod:`bench.plugin`) on their
``PYTHONPATH``; the orchestrator does not need it (it learns the agent from the hosts'
registrations), so its phase planner never sees a benchmark agent.

Every wait is bounded by a deadline; every process gets SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import grpc
import jwt
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench.plugin import AGENT, TASK, plugin_path

ROOT = Path(__file__).resolve().parents[1]
#: HS256 secret shared by the bench's orchestrator, hosts and client (loopback only)
SECRET = "bench-" + uuid.uuid4().hex
TENANT = "bench"

__all__ = ["Proc", "Stack", "free_port", "pg_admin_url", "poll", "proc_rss_mb", "redis_url"]


def pg_admin_url() -> str:
    """PostgreSQL server the bench creates its databases on (``BENCH_PG_URL``)."""
    return os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def redis_url() -> str:
    """Redis the bench uses, under unique key prefixes (``BENCH_REDIS_URL``)."""
    return os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_rss_mb(pid: int, key: str = "VmRSS") -> float:
    """``VmRSS`` (or ``VmHWM``, the peak) of a process in MB, 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


async def poll(
    check: Callable[[], Awaitable[bool]], *, within: float, what: str, every: float = 0.05
) -> float:
    """Await ``check()`` until true; returns the seconds it took. TimeoutError after ``within``."""
    start = time.monotonic()
    while not await check():
        if time.monotonic() - start > within:
            raise TimeoutError(f"{what}: not within {within:.0f} s")
        await asyncio.sleep(every)
    return time.monotonic() - start


class Proc:
    """One service subprocess (``python -m …``) with its log file."""

    def __init__(self, name: str, argv: Sequence[str], log_dir: Path, env: dict[str, str]) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", *argv],
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )

    @property
    def pid(self) -> int:
        """The process id."""
        return self.proc.pid

    def alive(self) -> bool:
        """Whether the process still runs."""
        return self.proc.poll() is None

    def cpu_seconds(self) -> float:
        """User + system CPU time the process used so far (0 when it is gone)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def tail(self, lines: int = 30) -> str:
        """The end of its log (for error messages)."""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def kill9(self) -> None:
        """SIGKILL: no drain, no deregistration; its leases are left to expire."""
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout``."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
        self._log.close()


async def _serving(address: str, service: str, proc: Proc, within: float = 60.0) -> None:
    options = [("grpc.initial_reconnect_backoff_ms", 50), ("grpc.max_reconnect_backoff_ms", 200)]
    async with grpc.aio.insecure_channel(address, options=options) as channel:
        stub = health_pb2_grpc.HealthStub(channel)

        async def check() -> bool:
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited with {proc.proc.returncode}:\n{proc.tail()}")
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=1.0)
            except grpc.aio.AioRpcError:
                return False
            return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

        await poll(check, within=within, what=f"{proc.name} SERVING")


def token(*, roles: Sequence[str] = ("operator", "admin"), tenant: str = TENANT) -> str:
    """An HS256 bearer token the bench's orchestrator accepts."""
    now = int(time.time())
    claims = {
        "sub": "bench",
        "tenant": tenant,
        "roles": list(roles),
        "iss": "ideamine",
        "aud": "ideamine-api",
    }
    return jwt.encode({**claims, "iat": now, "exp": now + 3600}, SECRET, algorithm="HS256")


@contextlib.asynccontextmanager
async def fresh_database(*, schema: bool = True) -> AsyncIterator[str]:
    """A new database (with IdeaMine's schema unless ``schema`` is False); dropped afterwards."""
    import asyncpg  # type: ignore[import-untyped]

    from ideamine.store.migrate import migrate

    admin_url = pg_admin_url()
    name = f"bench_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        if schema:
            await migrate(url)
        yield url
    finally:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


async def delete_prefix(prefix: str) -> None:
    """Delete every Redis key of a bench's queue prefix (the queue wraps it in braces)."""
    import redis.asyncio as aioredis

    r = aioredis.from_url(redis_url())
    try:
        keys = [k async for k in r.scan_iter(match=f"*{prefix}*", count=1000)]
        for i in range(0, len(keys), 500):
            await r.delete(*keys[i : i + 500])
    finally:
        await r.aclose()


@dataclass
class Stack:
    """Orchestrator + agent hosts + fresh database + private queue prefix.

    Use ``async with Stack(hosts=2) as s:``; ``s.client`` is an authenticated
    :class:`~ideamine.client.IdeaMineClient`, ``s.db`` an asyncpg pool on the database
    (for reading task timestamps), ``s.hosts`` the host processes.

    Args:
        hosts: agent-host processes to start.
        concurrency: task slots per host.
        lease_seconds: task lease of the hosts (a killed host's tasks move after it).
        heartbeat_seconds: lease renewal interval of the hosts.
        max_active_runs: start the orchestrator through :mod:`bench._orchestrator` with
            this cap on held runs (None: ``ideamine serve orchestrator``, cap 100).
    """

    hosts: int = 2
    concurrency: int = 32
    lease_seconds: float | None = None
    heartbeat_seconds: float | None = None
    max_active_runs: int | None = None
    prefix: str = field(default_factory=lambda: f"bench{uuid.uuid4().hex[:8]}")
    procs: list[Proc] = field(default_factory=list)
    host_procs: list[Proc] = field(default_factory=list)

    async def __aenter__(self) -> Self:
        from ideamine.client import IdeaMineClient

        self._dir = tempfile.TemporaryDirectory(prefix="ideamine-bench-")
        self.log_dir = Path(self._dir.name)
        self._db_cm = fresh_database()
        self.database_url = await self._db_cm.__aenter__()
        try:
            import asyncpg

            self.db = await asyncpg.create_pool(self.database_url, min_size=1, max_size=2)
            port = free_port()
            self.address = f"127.0.0.1:{port}"
            if self.max_active_runs is None:
                argv = ["ideamine.cli.main", "serve", "orchestrator", f"--listen={self.address}"]
                argv += [f"--jwt-hs256-secret={SECRET}", "--log-level=WARNING", "--metrics-port=0"]
                argv.append(f"--queue-prefix={self.prefix}")
            else:
                argv = ["bench._orchestrator", self.address, SECRET, self.prefix, str(self.max_active_runs)]
            self.orchestrator = self._spawn("orchestrator", argv, extra_path=False)
            await _serving(self.address, "", self.orchestrator)
            self.client = IdeaMineClient(self.address, token=token())
            for _ in range(self.hosts):
                self.add_host()
            if self.hosts:
                await self.wait_registered(self.hosts)
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    def _spawn(self, name: str, args: list[str], *, extra_path: bool) -> Proc:
        env = {
            **os.environ,
            "IDEAMINE_DATABASE_URL": self.database_url,
            "IDEAMINE_REDIS_URL": redis_url(),
            "IDEAMINE_JWT_HS256_SECRET": SECRET,
            "IDEAMINE_MODEL": "offline",
        }
        if extra_path:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(plugin_path()), env.get("PYTHONPATH")]))
        proc = Proc(name, args, self.log_dir, env)
        self.procs.append(proc)
        return proc

    def add_host(self) -> Proc:
        """Start one more agent host (registration is awaited by :meth:`wait_registered`)."""
        args = [
            "ideamine.cli.main",
            "serve",
            "agent-host",
            f"--queue-prefix={self.prefix}",
            f"--listen=127.0.0.1:{free_port()}",
            f"--orchestrator={self.address}",
            f"--concurrency={self.concurrency}",
            "--metrics-port=0",
            "--log-level=WARNING",
        ]
        if self.lease_seconds is not None:
            args.append(f"--lease-seconds={self.lease_seconds}")
        if self.heartbeat_seconds is not None:
            args.append(f"--heartbeat-seconds={self.heartbeat_seconds}")
        proc = self._spawn(f"agent-host-{len(self.host_procs) + 1}", args, extra_path=True)
        self.host_procs.append(proc)
        return proc

    async def wait_registered(self, count: int, within: float = 60.0) -> None:
        """Until ``count`` live hosts offer the no-op agent."""

        async def check() -> bool:
            for p in self.host_procs:
                if not p.alive() and p.proc.returncode != -signal.SIGKILL:
                    raise RuntimeError(f"{p.name} exited with {p.proc.returncode}:\n{p.tail()}")
            agents = await self.client.list_agents(phase="intake")
            return any(a.name == AGENT and len(a.host_ids) >= count for a in agents)

        await poll(check, within=within, what=f"{count} agent hosts registered", every=0.1)

    async def holder_run(self, title: str = "bench") -> str:
        """A run to hang submitted tasks on: created over the API, its own phase finished.

        The run asks for the intake phase only; waiting for it to end keeps the engine's
        own (offline) intake tasks out of the measurement.
        """
        from ideamine._proto.ideamine.v1 import common_pb2, run_pb2

        run = await self.client.create_run(
            run_pb2.Run(
                title=title,
                idea="A benchmark holder run: tasks are submitted to it directly.",
                requested_phases=[common_pb2.PHASE_INTAKE],
            )
        )
        ended = {
            common_pb2.RUN_STATUS_SUCCEEDED,
            common_pb2.RUN_STATUS_FAILED,
            common_pb2.RUN_STATUS_NEEDS_WAIVER,
        }

        async def done() -> bool:
            return (await self.client.get_run(run.id)).status in ended

        await poll(done, within=120, what="holder run finished its intake phase", every=0.1)
        return str(run.id)

    async def submit(
        self,
        run_ids: Sequence[str],
        n: int,
        *,
        batch: int = 500,
        parallel: int = 4,
        first: int = 0,
        sleep_s: float = 0.0,
    ) -> list[Any]:
        """Submit ``n`` no-op tasks spread evenly over ``run_ids``; returns the created tasks.

        One SubmitTasks call carries tasks of one run (at most ``batch``); up to
        ``parallel`` calls are in flight, as several clients would have. Each task's
        input holds a sequence number from ``first`` on (and ``sleep_s``, how long the
        agent waits before returning).
        """
        from ideamine._proto.ideamine.v1 import task_pb2

        calls: list[list[Any]] = []
        for r, run_id in enumerate(run_ids):
            seqs = range(first + r, first + n, len(run_ids))
            for k in range(0, len(seqs), batch):
                subs = []
                for seq in seqs[k : k + batch]:
                    sub = task_pb2.TaskSubmission(run_id=run_id, agent=AGENT, task_key=TASK)
                    # distinct inputs: equal ones in one call share one idempotency key
                    sub.input.update({"seq": seq, "sleep_s": sleep_s} if sleep_s else {"seq": seq})
                    subs.append(sub)
                calls.append(subs)
        sem = asyncio.Semaphore(parallel)

        async def one(subs: list[Any]) -> list[Any]:
            async with sem:
                return await self.client.submit_tasks(subs)

        return [t for created in await asyncio.gather(*(one(c) for c in calls)) for t in created]

    async def unfinished(self, run_ids: Sequence[str]) -> int:
        """Tasks of these runs still QUEUED or RUNNING (read from PostgreSQL).

        Polled while the system under test works, so it must stay cheap: the condition is
        the ``tasks_unfinished`` partial index's, which holds only the unfinished rows
        (reading every task of the runs cost ~10 ms of server CPU per poll at 10,000 tasks).
        """
        return int(
            await self.db.fetchval(
                "SELECT count(*) FROM tasks WHERE status IN ('QUEUED', 'RUNNING') AND run_id = ANY($1::uuid[])",
                list(run_ids),
            )
        )

    async def timestamps(self, task_ids: Sequence[str]) -> dict[str, tuple[float, float, float, str]]:
        """Per task id: ``(created, started, finished, status)``, times in epoch seconds (0 = not yet)."""
        rows = await self.db.fetch(
            "SELECT id::text AS id, extract(epoch FROM created_at)::float8 AS c,"
            " extract(epoch FROM started_at)::float8 AS s, extract(epoch FROM finished_at)::float8 AS f,"
            " status FROM tasks WHERE id = ANY($1::uuid[])",
            list(task_ids),
        )
        return {r["id"]: (r["c"], r["s"] or 0.0, r["f"] or 0.0, r["status"]) for r in rows}

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with contextlib.suppress(Exception):
            await self.client.close()
        for p in reversed(self.procs):
            p.stop()
        with contextlib.suppress(Exception):
            await self.db.close()
        await self._db_cm.__aexit__(None, None, None)
        await delete_prefix(self.prefix)
        self._dir.cleanup()
