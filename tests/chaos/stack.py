"""The distributed stack the chaos scenarios break: every dependency private and restartable.

What the other suites' helpers did not have, written once here (and reusing them for
the rest — ``tests.agent_host.procs`` for service processes and health waits,
``tests.agent_host.support.fresh_database`` for the migrated database,
``tests.queue.servers.RedisServer`` for a private AOF Redis, the fake Messages API with
offline answers from ``tests.security.offline_messages``):

- :class:`PgCluster` — a private PostgreSQL cluster (``initdb``) on a free port, so the
  scenarios can restart it (fast or immediate) without touching the shared server;
- :class:`ChaosStack` — that cluster, a private Redis with AOF, the model server, two
  ``ideamine serve orchestrator`` and three ``ideamine serve agent-host`` processes (the
  chaos plugin loaded, ``--model anthropic`` against the model server), and a
  *supervisor* that restarts any process that dies, as Kubernetes would (a restarted
  orchestrator comes back under a new replica id, a restarted host under a new host id).

Timings are small (task lease 1 s, heartbeat 0.2 s, run lease 1.5 s, reconcile 1 s)
so a scenario recovers in seconds; nothing here sleeps to wait for an effect.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]

from ideamine._proto.ideamine.v1 import common_pb2, run_pb2
from ideamine.client import IdeaMineClient
from ideamine.errors import StoreUnavailable
from ideamine.store.base import RunStore
from ideamine.store.factory import open_store
from tests.agent_host.procs import ROOT, Service, free_port, wait_serving
from tests.agent_host.support import fresh_database
from tests.llm.fake_messages_server import FakeMessagesServer
from tests.queue.servers import RedisServer
from tests.security.offline_messages import offline_reply

__all__ = ["ChaosStack", "Managed", "PgCluster", "retrying"]

T = TypeVar("T")

PLUGIN = ROOT / "tests" / "chaos" / "fixtures" / "chaos_plugin"
TASK_LEASE, HEARTBEAT, RUN_LEASE, RECONCILE = "1.0", "0.2", "1.5", "1.0"
_DB_DOWN = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.InternalClientError,  # a pooled connection the restart broke mid-operation
    StoreUnavailable,
)


async def retrying(op: Callable[[], Awaitable[T]], *, within: float = 60.0) -> T:
    """``op()``, retried while PostgreSQL is restarting (a deadline, not a fixed wait)."""
    deadline = time.monotonic() + within
    while True:
        try:
            return await op()
        except _DB_DOWN:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


class PgCluster:
    """A private PostgreSQL cluster on a free port (run as the ``postgres`` user when root)."""

    def __init__(self) -> None:
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
        if not bins:
            raise RuntimeError(
                "PostgreSQL binaries not found under /usr/lib/postgresql (scripts/services up)"
            )
        self.bin = bins[-1]
        self.dir = Path(tempfile.mkdtemp(prefix="ideamine-chaos-pg-"))
        self.port = free_port()
        self.admin_url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.restarts = 0

    def _pg(self, tool: str, *args: str) -> None:
        cmd = [str(self.bin / tool), *args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def _ctl(self, *args: str) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c max_connections=200"
        self._pg(
            "pg_ctl",
            "-D",
            str(self.dir / "data"),
            "-l",
            str(self.dir / "server.log"),
            "-w",
            "-t",
            "60",
            *args,
            "-o",
            options,
        )

    async def start(self) -> None:
        """initdb (first time) and start; returns when it accepts connections."""
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        if not (self.dir / "data" / "PG_VERSION").exists():
            await asyncio.to_thread(
                self._pg,
                "initdb",
                "-D",
                str(self.dir / "data"),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            )
        await asyncio.to_thread(self._ctl, "start")

    async def restart(self, mode: str) -> None:
        """``pg_ctl restart -m fast|immediate`` (immediate: crash recovery from the WAL)."""
        await asyncio.to_thread(self._ctl, "restart", "-m", mode)
        self.restarts += 1

    async def close(self) -> None:
        """Stop (immediate) and delete the cluster."""
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            await asyncio.to_thread(
                self._pg, "pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop"
            )
        shutil.rmtree(self.dir, ignore_errors=True)


@dataclass
class Managed:
    """One supervised service process: how to (re)start it and what it is now."""

    name: str
    kind: str  #: "orchestrator" | "agent-host"
    address: str
    args: list[str]
    service: Service | None = None
    generation: int = 0
    held: bool = False  #: the supervisor leaves it alone (a scenario stopped it on purpose)
    restarts: list[float] = field(default_factory=list)

    @property
    def pid(self) -> int:
        """The live process id."""
        assert self.service is not None
        return self.service.pid

    def alive(self) -> bool:
        """Whether the process runs (a SIGSTOPped one counts as alive)."""
        return self.service is not None and self.service.proc.poll() is None

    @property
    def replica_id(self) -> str:
        """The orchestrator replica id of this generation."""
        return f"{self.name}-g{self.generation}"


class ChaosStack:
    """PostgreSQL + Redis + model server + 2 orchestrators + 3 agent hosts, supervised.

    Lifecycle: ``async with ChaosStack(log_dir) as stack``. ``stack.db`` reads the truth
    (use :func:`retrying` around reads that may meet a restarting PostgreSQL),
    ``stack.client()`` talks to a live orchestrator, ``stack.processes`` are the services.
    """

    def __init__(self, log_dir: Path, *, hosts: int = 3, orchestrators: int = 2) -> None:
        self.log_dir = log_dir
        self.chaos_dir = log_dir / "chaos"
        self.chaos_dir.mkdir(parents=True, exist_ok=True)
        self.prefix = f"chaos{os.getpid()}{int(time.time()) % 100000}"
        self.pg = PgCluster()
        self.redis = RedisServer(Path(tempfile.mkdtemp(prefix="ideamine-chaos-redis-")))
        self.model = FakeMessagesServer()
        self.processes: list[Managed] = []
        self._n_hosts, self._n_orchestrators = hosts, orchestrators
        self._exit = contextlib.AsyncExitStack()
        self._supervisor: asyncio.Task[None] | None = None
        self.db: asyncpg.Pool
        self.store: RunStore
        self.db_url = ""

    # ------------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> ChaosStack:
        try:
            await self.pg.start()
            self._exit.push_async_callback(self.pg.close)
            await self.redis.start()
            self._exit.push_async_callback(self._close_redis)
            self.model.start()
            self._exit.callback(self.model.stop)
            self.top_up_model()
            self.db_url = await self._exit.enter_async_context(fresh_database(self.pg.admin_url))
            self.db = await asyncpg.create_pool(self.db_url, min_size=1, max_size=4)
            self._exit.push_async_callback(self.db.close)
            self.store = await open_store(self.db_url)
            self._exit.push_async_callback(self.store.close)
            self._declare()
            self._exit.push_async_callback(self._stop_all)
            for m in self.processes:
                self._spawn(m)
            await asyncio.gather(*(self.wait_serving(m) for m in self.processes))
            self._supervisor = asyncio.create_task(self._supervise(), name="chaos-supervisor")
        except BaseException:
            await self._exit.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        await self._exit.aclose()

    async def _close_redis(self) -> None:
        await self.redis.stop(signal.SIGKILL)
        shutil.rmtree(self.redis.directory, ignore_errors=True)

    def _declare(self) -> None:
        common = ["--database-url", self.db_url, "--redis-url", self.redis.url, "--queue-prefix", self.prefix]
        common += ["--metrics-port", "0", "--log-level", "INFO"]
        orchestrators = [f"127.0.0.1:{free_port()}" for _ in range(self._n_orchestrators)]
        for i, address in enumerate(orchestrators):
            args = ["serve", "orchestrator", *common, "--listen", address, "--insecure-local"]
            args += ["--lease-seconds", RUN_LEASE, "--reconcile-seconds", RECONCILE]
            self.processes.append(Managed(f"orch-{chr(97 + i)}", "orchestrator", address, args))
        for i in range(self._n_hosts):
            address = f"127.0.0.1:{free_port()}"
            args = ["serve", "agent-host", *common, "--listen", address, "--model", "anthropic"]
            args += ["--orchestrator", orchestrators[i % len(orchestrators)], "--concurrency", "4"]
            args += ["--lease-seconds", TASK_LEASE, "--heartbeat-seconds", HEARTBEAT, "--grace-seconds", "1"]
            self.processes.append(Managed(f"host-{i + 1}", "agent-host", address, args))

    def _env(self) -> dict[str, str]:
        return {
            "PYTHONPATH": os.pathsep.join([str(PLUGIN), str(ROOT)]),
            "IDEAMINE_CHAOS_DIR": str(self.chaos_dir),
            "ANTHROPIC_API_KEY": "chaos-test-key",
            "ANTHROPIC_BASE_URL": self.model.base_url,
        }

    def _spawn(self, m: Managed) -> None:
        m.generation += 1
        args = [*m.args, "--replica-id", m.replica_id] if m.kind == "orchestrator" else m.args
        m.service = Service(f"{m.name}.{m.generation}", args, self.log_dir, self._env())

    async def wait_serving(self, m: Managed, within: float = 90.0) -> None:
        """Until the process answers its health check with SERVING."""
        service = "ideamine.v1.RunService" if m.kind == "orchestrator" else "ideamine.v1.AgentHostService"
        assert m.service is not None
        await wait_serving(m.address, service, m.service, within=within)

    async def _stop_all(self) -> None:
        for m in self.processes:
            m.held = True
            if m.service is not None:
                if m.alive():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(m.pid, signal.SIGCONT)
                await asyncio.to_thread(m.service.stop, 10.0)

    async def _supervise(self) -> None:
        """Restart what died (unless held); keep the model server's answers topped up."""
        while True:
            for m in self.processes:
                if not m.held and m.service is not None and not m.alive():
                    m.service.stop()  # reaps it and closes its log
                    self._spawn(m)
                    m.restarts.append(time.time())
            self.top_up_model()
            await asyncio.sleep(0.1)

    def top_up_model(self, low: int = 500, batch: int = 2000) -> None:
        """Keep enough offline answers queued on the model server."""
        if self.model.pending < low:
            self.model.script(*([offline_reply()] * batch))

    # ------------------------------------------------------------------ helpers
    def by_kind(self, kind: str) -> list[Managed]:
        """The supervised processes of one kind."""
        return [m for m in self.processes if m.kind == kind]

    def host_of(self, pid: int) -> Managed:
        """The agent host whose current process is ``pid``."""
        [m] = [m for m in self.by_kind("agent-host") if m.alive() and m.pid == pid]
        return m

    def orchestrator_of(self, replica_id: str) -> Managed | None:
        """The orchestrator running as ``replica_id`` now (None: that generation is gone)."""
        return next(
            (m for m in self.by_kind("orchestrator") if m.replica_id == replica_id and m.alive()), None
        )

    async def all_serving(self) -> None:
        """Until every process is up and SERVING (after restarts)."""
        for m in self.processes:
            while not m.alive():  # noqa: ASYNC110 - the supervisor restarts it
                await asyncio.sleep(0.05)
            await self.wait_serving(m)

    @contextlib.asynccontextmanager
    async def client(self) -> AsyncIterator[IdeaMineClient]:
        """A client of a live orchestrator (insecure local: tenant ``local``)."""
        live = [m for m in self.by_kind("orchestrator") if m.alive()] or self.by_kind("orchestrator")
        async with IdeaMineClient(live[0].address, max_attempts=20) as c:
            yield c

    async def create_run(self, mode: str = "hold:0", *, policy: Any = common_pb2.POLICY_AUTONOMOUS) -> str:
        """A run of the intake phase whose chaos task follows ``mode`` (carried in the title)."""
        idea = (
            "A booking app for community sports halls: clubs reserve courts, pay deposits online, "
            "get reminders, and the council sees weekly utilisation reports per hall."
        )
        async with self.client() as c:
            run = await c.create_run(
                run_pb2.Run(
                    title=f"chaos {mode}",
                    idea=idea,
                    requested_phases=[common_pb2.PHASE_INTAKE],
                    policy=policy,
                )
            )
        return str(run.id)

    def release(self, run_id: str) -> None:
        """Let the run's gated chaos task finish (``gate:`` mode)."""
        directory = self.chaos_dir / run_id
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "release").touch()

    def marker(self, run_id: str, prefix: str) -> list[tuple[str, float]]:
        """``(file name, unix time)`` of the chaos agent's markers for a run, oldest first."""
        directory = self.chaos_dir / run_id
        found = (
            [(p.name, float(p.read_text() or 0)) for p in directory.glob(f"{prefix}*")]
            if directory.exists()
            else []
        )
        return sorted(found, key=lambda x: x[1])

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        """A read of the truth, retried while PostgreSQL restarts."""
        return await retrying(lambda: self.db.fetch(sql, *args))

    async def fetchval(self, sql: str, *args: Any) -> Any:
        """One value, retried while PostgreSQL restarts."""
        return await retrying(lambda: self.db.fetchval(sql, *args))
