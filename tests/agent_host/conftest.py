"""Fixtures of the agent-host tests: a fresh database, a queue namespace and a host runner."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from agent_host.config import HostConfig
from agent_host.server import AgentHost
from agent_host.servicer import HostState
from ideamine._proto.ideamine.v1 import agent_host_pb2_grpc
from ideamine.ids import new_id
from ideamine.llm.offline import OfflineProvider
from ideamine.queue import RedisStreamsQueue
from ideamine.store.base import RunStore
from ideamine.store.factory import open_store
from tests.agent_host import agents
from tests.agent_host.support import fresh_database, redis_queue
from tests.queue.helpers import eventually


class Env:
    """A fresh database, a queue namespace and a running host."""

    def __init__(self, db_url: str, queue: RedisStreamsQueue, store: RunStore, redis_url: str) -> None:
        self.db_url, self.queue, self.store, self.redis_url = db_url, queue, store, redis_url
        self.host: AgentHost | None = None
        self.runner: asyncio.Task[None] | None = None
        self.channels: list[grpc.aio.Channel] = []

    def config(self, **overrides: Any) -> HostConfig:
        values: dict[str, Any] = {
            "database_url": self.db_url,
            "redis_url": self.redis_url,
            "queue_prefix": self.queue.keys.prefix,
            "listen": "127.0.0.1:0",
            "host_id": new_id(),
            "concurrency": 2,
            "lease_seconds": 2.0,
            "heartbeat_seconds": 0.5,
            "grace_seconds": 5.0,
        }
        return HostConfig(**{**values, **overrides})

    async def start(self, **overrides: Any) -> AgentHost:
        """Run a host with ``overrides`` in a background task until it serves (or fails)."""
        host = self.host = AgentHost(
            self.config(**overrides), extra_plugins=[agents], provider=OfflineProvider()
        )
        runner = self.runner = asyncio.create_task(host.run(handle_signals=False))
        await eventually(
            lambda: value(host.state), lambda s: s is HostState.SERVING or runner.done(), what="serving"
        )
        if runner.done():
            runner.result()
        return host

    def stub(self) -> agent_host_pb2_grpc.AgentHostServiceStub:
        assert self.host is not None
        channel = grpc.aio.insecure_channel(self.host.server.address)
        self.channels.append(channel)
        return agent_host_pb2_grpc.AgentHostServiceStub(channel)


async def value(v: Any) -> Any:
    """``v`` as an awaitable, so ``eventually`` can poll a plain attribute."""
    return v


@pytest.fixture
async def env(pg_url: str, redis_url: str) -> AsyncIterator[Env]:
    agents.BlockingAgent.reset()
    async with fresh_database(pg_url) as db_url, redis_queue(redis_url) as queue:
        store = await open_store(db_url)
        e = Env(db_url, queue, store, redis_url)
        try:
            yield e
        finally:
            agents.BlockingAgent.release.set()
            if e.host is not None and e.runner is not None:
                e.host.request_drain(0)
                await e.runner
            for channel in e.channels:
                await channel.close()
            await store.close()
