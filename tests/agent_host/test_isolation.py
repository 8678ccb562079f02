"""``--isolation process``: the agent runs in a limited child; metering, lease and commit stay here."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent_host.isolation import (
    ProcessRunner,
    ResourceLimits,
    decode_context,
    decode_line,
    encode_context,
    encode_line,
)
from agent_host.worker import TaskWorker
from ideamine.agents import AgentContext, TaskInfo
from ideamine.enums import TaskStatus
from ideamine.errors import PluginError, decode_task_error
from ideamine.llm.offline import OfflineProvider
from ideamine.plugins import AgentEntry, AgentRegistry, get_plugin_manager
from ideamine.queue import open_queue
from ideamine.queue.base import TaskQueue
from ideamine.store.base import RunStore
from ideamine.store.sqlite import open_sqlite
from tests.agent_host import agents
from tests.agent_host.support import seed_task

LIMITS = ResourceLimits(memory_bytes=1 << 30, cpu_seconds=20)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[tuple[RunStore, TaskQueue, AgentRegistry]]:
    store = await open_sqlite(tmp_path / "db.sqlite3")
    queue = open_queue("memory://")
    await queue.ensure()
    registry = AgentRegistry.from_plugin_manager(get_plugin_manager(extra=[agents]))
    try:
        yield store, queue, registry
    finally:
        await queue.close()
        await store.close()


async def _run_one(
    env: tuple[RunStore, TaskQueue, AgentRegistry],
    agent: str,
    task_key: str,
    *,
    limits: ResourceLimits | None = LIMITS,
    phase: str = "critique",
    deadline: datetime | None = None,
) -> tuple[Any, TaskWorker]:
    """Seed one task and handle its delivery; ``limits=None`` runs the agent in this process."""
    store, queue, registry = env
    task = await seed_task(store, queue, agent=agent, task_key=task_key, phase=phase, deadline=deadline)
    worker = TaskWorker(
        store=store,
        queue=queue,
        registry=registry,
        provider=OfflineProvider(),
        consumer="iso",
        runner=ProcessRunner(limits=limits) if limits is not None else None,
    )
    [delivery] = await queue.consume("iso", count=1)
    await worker.handle(delivery)
    return await store.get_task(task.id), worker


async def test_child_sees_only_declared_environment_and_the_full_context(
    env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDEAMINE_TEST_VISIBLE", "yes")
    monkeypatch.setenv("IDEAMINE_DATABASE_URL", "postgresql://secret@db/prod")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-secret")
    task, worker = await _run_one(env, "probe", "probe")
    assert task.status is TaskStatus.SUCCEEDED, task.error
    [artifact] = await env[0].list_artifacts(task.run_id, type="probe-report")
    report = artifact.content
    assert report["pid"] != os.getpid()
    assert {k: v for k, v in report["env"].items() if not k.startswith("LC_")} == {
        "IDEAMINE_TEST_VISIBLE": "yes"
    }
    assert report["idea"].startswith("A marketplace for used climbing gear")
    assert report["feedback"] == ["fix the escrow section"] and report["attempt"] == 1
    assert worker.completed == 1


async def test_model_calls_are_metered_by_the_parent_and_match_in_process_output(env: Any) -> None:
    store = env[0]
    task, _ = await _run_one(env, "intake", "classify", phase="intake")
    assert task.status is TaskStatus.SUCCEEDED, task.error
    [isolated] = await store.list_artifacts(task.run_id, type="idea-classification")
    calls = await store.list_llm_calls(task_id=task.id)
    assert len(calls) == 1 and calls[0].provider == "offline" and calls[0].status == "ok"

    # the same task in this process gives the same artifact: the child changes nothing
    again, _ = await _run_one(env, "intake", "classify", phase="intake", limits=None)
    [in_process] = await store.list_artifacts(again.run_id, type="idea-classification")
    assert in_process.content == isolated.content


async def test_memory_limit_fails_the_task_without_retry(env: Any) -> None:
    task, worker = await _run_one(
        env, "hog", "hog-memory", limits=ResourceLimits(memory_bytes=1 << 30, cpu_seconds=20)
    )
    assert task.status is TaskStatus.FAILED
    reason, retryable, message = decode_task_error(task.error)
    assert (reason, retryable) == ("AGENT_ERROR", False) and "memory limit" in message
    assert worker.failed == 1


async def test_cpu_limit_kills_the_child_and_fails_the_task(env: Any) -> None:
    task, _ = await _run_one(
        env, "hog", "hog-cpu", limits=ResourceLimits(memory_bytes=1 << 30, cpu_seconds=1)
    )
    reason, retryable, message = decode_task_error(task.error)
    assert task.status is TaskStatus.FAILED
    assert (reason, retryable) == ("AGENT_ERROR", False) and "CPU-time limit (1s)" in message


async def test_the_task_deadline_kills_the_child(env: Any) -> None:
    deadline = datetime.now(UTC) + timedelta(seconds=1)
    task, _ = await _run_one(env, "hog", "hog-cpu", deadline=deadline)
    assert task.status is TaskStatus.FAILED
    assert decode_task_error(task.error)[:2] == ("TASK_TIMEOUT", True)


async def test_agent_exception_crosses_the_pipe_with_its_reason(env: Any) -> None:
    task, _ = await _run_one(env, "hog", "hog-raise")
    reason, retryable, message = decode_task_error(task.error)
    assert (reason, retryable) == ("AGENT_CRASHED", True) and message == "ValueError: the hog agent refuses"


async def test_child_exit_without_result_is_a_retryable_failure(env: Any) -> None:
    task, _ = await _run_one(env, "hog", "hog-exit")
    reason, retryable, message = decode_task_error(task.error)
    assert (reason, retryable) == ("AGENT_ERROR", True) and "exit code 7" in message


async def test_a_class_defined_in_a_function_is_refused_with_the_plugin_named() -> None:
    class Local(agents.ProbeAgent):
        name = "local-probe"

    runner = ProcessRunner(limits=LIMITS)
    info = TaskInfo("r", "t", "critique", "probe", "local-probe", "1", 1, 1, "k")
    with pytest.raises(PluginError, match="must be importable by module path") as err:
        await runner(AgentEntry(Local, "my-plugin", False), AgentContext(info=info, idea={}, llm=None), info)  # type: ignore[arg-type]
    assert err.value.plugin == "my-plugin"


def test_context_round_trips_through_the_wire_format() -> None:
    info = TaskInfo(
        "r", "t", "prd", "write", "prd", "1", 2, 3, "k", deadline=datetime(2030, 1, 1, tzinfo=UTC)
    )
    context = AgentContext(
        info=info,
        idea={"text": "x"},
        llm=None,  # type: ignore[arg-type]
        artifacts={"prd": {"a": 1}},
        feedback=("one", "two"),
        answers=({"question": "q", "answer": "a"},),
        story={"id": "ST-001"},
    )
    wire = decode_line(encode_line({"context": encode_context(context)}))["context"]
    back = decode_context(wire, llm=None, heartbeat=context.heartbeat)
    assert dataclasses.replace(back, cancelled=context.cancelled) == context
