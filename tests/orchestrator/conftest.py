"""Fixtures of the orchestrator tests: one real server per module.

``stack`` is module-scoped (its event loop too): a fresh migrated PostgreSQL database,
a unique Redis key prefix, an RSA key in a JWKS file, and an orchestrator replica with
authentication on, listening on 127.0.0.1:0. Test modules using it mark themselves
``pytest.mark.asyncio(loop_scope="module")``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from ideamine._proto.ideamine.v1 import (
    agent_host_pb2_grpc,
    artifact_pb2_grpc,
    budget_pb2_grpc,
    catalog_pb2_grpc,
    checkpoint_pb2_grpc,
    clarification_pb2_grpc,
    gate_pb2_grpc,
    phase_pb2_grpc,
    run_pb2_grpc,
    task_pb2_grpc,
)
from ideamine.queue.keys import QueueKeys
from ideamine.store.base import RunStore
from ideamine.store.factory import open_store
from orchestrator.server import OrchestratorServer
from tests.orchestrator.support import (
    Keys,
    bearer,
    create_database,
    drop_database,
    make_keys,
    running_server,
    server_config,
    unique_prefix,
)


@dataclass
class Stack:
    """A running orchestrator and what the tests reach it with."""

    server: OrchestratorServer
    store: RunStore  #: a second connection to the same database (seeding, inspection)
    channel: grpc.aio.Channel
    keys: Keys
    db_url: str
    redis_url: str
    prefix: str
    runs: Any = None
    phases: Any = None
    artifacts: Any = None
    clarifications: Any = None
    gates: Any = None
    budgets: Any = None
    checkpoints: Any = None
    catalog: Any = None
    tasks: Any = None
    hosts: Any = None

    def md(self, *roles: str, tenant: str = "acme", sub: str = "alice") -> tuple[tuple[str, str], ...]:
        """Bearer metadata for a caller with ``roles`` (default: all) in ``tenant``."""
        return bearer(self.keys.token(sub=sub, tenant=tenant, roles=roles or ("admin",)))

    def __post_init__(self) -> None:
        for name, stub in _STUBS.items():
            setattr(self, name, stub(self.channel))


#: Stack attribute → stub class, e.g. ``stack.runs.CreateRun(...)``
_STUBS: dict[str, Any] = {
    "runs": run_pb2_grpc.RunServiceStub,
    "phases": phase_pb2_grpc.PhaseServiceStub,
    "artifacts": artifact_pb2_grpc.ArtifactServiceStub,
    "clarifications": clarification_pb2_grpc.ClarificationServiceStub,
    "gates": gate_pb2_grpc.GateServiceStub,
    "budgets": budget_pb2_grpc.BudgetServiceStub,
    "checkpoints": checkpoint_pb2_grpc.CheckpointServiceStub,
    "catalog": catalog_pb2_grpc.CatalogServiceStub,
    "tasks": task_pb2_grpc.TaskServiceStub,
    "hosts": agent_host_pb2_grpc.HostRegistryServiceStub,
}


async def drop_queue(redis_url: str, prefix: str) -> None:
    """Delete a test's Redis keys."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        await client.delete(*QueueKeys(prefix).all())
    finally:
        await client.aclose()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(
    request: pytest.FixtureRequest, pg_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    """One orchestrator (auth on) over a fresh database and a unique Redis prefix.

    A test module may set ``SERVER_OVERRIDES`` (config field → value), e.g.
    ``{"max_active_runs": 0}`` for a server that serves the API but never drives a run,
    so tests can put runs into any state through the store without racing the engine.
    """
    keys = make_keys(tmp_path_factory.mktemp("keys"))
    db = await create_database(pg_url)
    prefix = unique_prefix()
    overrides = getattr(request.module, "SERVER_OVERRIDES", {})
    try:
        async with running_server(server_config(db, redis_url, prefix, keys, **overrides)) as server:
            store = await open_store(db)
            try:
                async with grpc.aio.insecure_channel(server.address) as channel:
                    yield Stack(server, store, channel, keys, db, redis_url, prefix)
            finally:
                await store.close()
    finally:
        await drop_database(pg_url, db)
        await drop_queue(redis_url, prefix)
