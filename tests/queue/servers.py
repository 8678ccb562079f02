"""Test-owned servers: a private redis-server with AOF, and a store on a temp file.

Durability tests restart or flush Redis, which must never happen to the shared server
other suites use, so they start their own ``redis-server`` on a free port.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
from pathlib import Path
from types import TracebackType

import pytest
import redis.asyncio as aioredis

from ideamine.store.base import RunStore
from ideamine.store.factory import open_store
from tests.queue.helpers import eventually


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A private ``redis-server`` with ``appendonly yes, appendfsync always`` in ``directory``.

    ``async with RedisServer(tmp_path) as server`` starts it; ``restart(sig)`` stops it
    with ``sig`` and starts a new process on the same port and data directory.
    """

    def __init__(self, directory: Path) -> None:
        if shutil.which("redis-server") is None:
            pytest.skip("redis-server binary not installed")
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        """Start the process and wait until it answers PING (AOF loaded)."""
        self._proc = await asyncio.create_subprocess_exec(
            "redis-server",
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--save", "",
            "--logfile", str(self.directory / "redis.log"),
        )  # fmt: skip
        client = aioredis.Redis.from_url(self.url)

        async def ping() -> bool:
            try:
                return bool(await client.ping())
            except (OSError, aioredis.ConnectionError):  # includes "loading the dataset"
                return False

        try:
            await eventually(ping, bool, what=f"redis-server on port {self.port}")
        finally:
            await client.aclose()

    async def run_id(self) -> str:
        """The server process's ``run_id`` (changes with every start)."""
        client = aioredis.Redis.from_url(self.url)
        try:
            info = await client.info("server")
        finally:
            await client.aclose()
        return str(info["run_id"])

    async def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Stop the process with ``sig`` and reap it."""
        if self._proc is not None and self._proc.returncode is None:
            self._proc.send_signal(sig)
            await self._proc.wait()
        self._proc = None

    async def restart(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Stop with ``sig``, then start again on the same port and directory."""
        await self.stop(sig)
        await self.start()

    async def __aenter__(self) -> RedisServer:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop(signal.SIGKILL)


async def open_test_store(directory: Path) -> RunStore:
    """A fresh SQLite RunStore in ``directory``, opened through the store factory."""
    return await open_store(f"sqlite:///{directory / 'run.db'}")
