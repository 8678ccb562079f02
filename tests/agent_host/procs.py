"""Real service processes for tests: free ports, spawning ``ideamine serve …``, waiting for health."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Service:
    """One ``ideamine`` service subprocess with its log file."""

    def __init__(
        self, name: str, args: Sequence[str], log_dir: Path, env: Mapping[str, str] | None = None
    ) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ideamine.cli.main", *args],
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )

    @property
    def pid(self) -> int:
        """The process id."""
        return self.proc.pid

    def log(self) -> str:
        """Everything the process wrote so far."""
        return self.log_path.read_text(errors="replace")

    def kill9(self) -> None:
        """SIGKILL: no drain, no deregistration, leases left to expire."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def wait(self, timeout: float = 60.0) -> int:
        """Wait for the process to exit on its own; its exit code."""
        return int(self.proc.wait(timeout=timeout))

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait; returns the exit code (SIGKILL after ``timeout``)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
        self._log.close()
        return int(self.proc.returncode)


async def wait_serving(address: str, service: str, proc: Service, *, within: float = 120.0) -> None:
    """Poll gRPC health of ``service`` at ``address`` until SERVING; fail if the process died."""
    deadline = time.monotonic() + within
    # short reconnect backoff: the first attempts fail while the process is still starting
    options = [("grpc.initial_reconnect_backoff_ms", 50), ("grpc.max_reconnect_backoff_ms", 200)]
    async with grpc.aio.insecure_channel(address, options=options) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            if proc.proc.poll() is not None:
                raise AssertionError(f"{proc.name} exited with {proc.proc.returncode}:\n{proc.log()}")
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=1.0)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{proc.name} not SERVING at {address}:\n{proc.log()}")
            await asyncio.sleep(0.05)


def serve(
    kind: str,
    name: str,
    *,
    database_url: str,
    redis_url: str,
    queue_prefix: str,
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    extra: Sequence[str] = (),
) -> tuple[Service, str]:
    """Start ``ideamine serve <kind>`` on a free loopback port; returns the process and its address.

    Orchestrators get ``--replica-id <name> --insecure-local``; every service ``--metrics-port 0``
    (several per test: no fixed /metrics port) unless ``extra`` names a port (a later flag wins).
    """
    address = f"127.0.0.1:{free_port()}"
    args = ["serve", kind, "--database-url", database_url, "--redis-url", redis_url]
    args += ["--queue-prefix", queue_prefix, "--listen", address]
    args += ["--metrics-port", "0"]
    if kind == "orchestrator":
        args += ["--replica-id", name, "--insecure-local"]
    return Service(name, [*args, *extra], log_dir, env), address
