"""Test helpers for plugin authors: run an agent the way an agent host runs it.

:class:`AgentHarness` is to an IdeaMine agent what Temporal's ``ActivityEnvironment`` is to
an activity: one object, one process, no servers. It keeps the real path — a throwaway
SQLite store, the in-process queue and the same :class:`~agent_host.worker.TaskWorker`
the hosts run — so what passes here passes on a host: the context is built from stored
artifacts, model calls go through the metered client (``llm_calls`` rows, schema repair),
outputs are checked against the schemas the agent declared, and the result is committed
exactly once per idempotency key.

Typical test of a third-party agent::

    from ideamine.testing import AgentHarness

    async def test_legal_review() -> None:
        async with AgentHarness(agents=[LegalReviewAgent], idea="A telehealth app ...",
                                constraints={"compliance": ["HIPAA"]}) as h:
            await h.run_phases("intake", "ideation")    # built-in agents, offline model
            await h.seed({"risk-register": {...}})      # or hand-written upstream artifacts
            result = await h.run("legal-review")
            assert result.artifact("legal-review")["findings"]

``model`` is ``"offline"`` (the default: deterministic, no network, no key), a
``"replay:PATH"`` cassette, or any :class:`~ideamine.llm.base.LLMProvider`.
``isolation="process"`` runs the agent in a resource-limited child process exactly as
``ideamine serve agent-host --isolation process`` does.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from agent_host.isolation import ProcessRunner, ResourceLimits
from agent_host.worker import TaskWorker
from ideamine.canonical import content_hash
from ideamine.catalogue import load_catalogue
from ideamine.errors import AgentError, InvalidInput, decode_task_error
from ideamine.ids import new_id
from ideamine.llm.base import LLMProvider
from ideamine.llm.providers import make_provider
from ideamine.plugins import AgentEntry, AgentRegistry, get_plugin_manager
from ideamine.queue import open_queue
from ideamine.queue.reconciler import task_message
from ideamine.store.base import RunStore
from ideamine.store.records import (
    ArtifactRecord,
    BudgetLimits,
    LLMCallRecord,
    NewArtifact,
    NewRun,
    NewTask,
    TaskRecord,
)
from ideamine.store.sqlite import open_sqlite

__all__ = ["AgentHarness", "HarnessResult"]

_CONSUMER = "harness"


@dataclass(frozen=True)
class HarnessResult:
    """What one task did.

    Attributes:
        task: the task row after the run (status, attempt, error).
        artifacts: the artifacts committed by this task.
        llm_calls: the model calls it made (usage and cost per call).
    """

    task: TaskRecord
    artifacts: list[ArtifactRecord] = field(default_factory=list)
    llm_calls: list[LLMCallRecord] = field(default_factory=list)

    @property
    def error(self) -> tuple[str, bool, str] | None:
        """``(reason, retryable, message)`` of a failed task, None when it succeeded."""
        return decode_task_error(self.task.error) if self.task.error else None

    def artifact(self, artifact_type: str) -> dict[str, Any]:
        """The content of the one artifact of ``artifact_type`` (KeyError when absent)."""
        for a in self.artifacts:
            if a.type == artifact_type:
                return dict(a.content)
        raise KeyError(f"task {self.task.task_key!r} produced no {artifact_type!r} artifact")


class AgentHarness:
    """Runs agent tasks against a throwaway store, one task at a time.

    Lifecycle: ``async with AgentHarness(...) as h`` (or ``await h.open()`` … ``await
    h.close()``). Each :meth:`run` creates a task in the harness's run, hands it to the
    worker and waits for the commit.

    Args:
        agents: agent classes under test; they take precedence over built-ins for the
            same catalogue task, as on a host.
        idea: the run's idea text.
        title: the run's title.
        constraints: the idea's constraints (``compliance``, ``budget_usd`` …).
        model: ``"offline"``, ``"replay:PATH"`` or a provider instance (closed with the harness).
        builtins: also load the installed plugins (the 13 built-in agents and any
            installed third parties), needed by :meth:`run_phases`.
        isolation: ``"none"`` or ``"process"`` (a child per task, with ``limits``).
        limits: resource limits for ``isolation="process"``.
        directory: where the SQLite file goes (a temporary directory by default).
    """

    def __init__(
        self,
        *,
        agents: Sequence[type[Any]] = (),
        idea: str = "A web app that helps independent yoga studios manage classes, waitlists and payments.",
        title: str = "harness",
        constraints: Mapping[str, Any] | None = None,
        model: str | LLMProvider = "offline",
        builtins: bool = True,
        isolation: Literal["none", "process"] = "none",
        limits: ResourceLimits | None = None,
        directory: str | Path | None = None,
    ) -> None:
        self.catalogue = load_catalogue()
        entries = [AgentEntry(cls=c, plugin=f"harness:{c.__module__}", builtin=False) for c in agents]
        if builtins:
            mine = {e.name for e in entries}
            pm = get_plugin_manager()
            installed = AgentRegistry.from_plugin_manager(pm, self.catalogue).agents
            entries += [e for e in installed if e.name not in mine]
        self.registry = AgentRegistry(entries, self.catalogue)
        self._idea = {"text": idea, "title": title, "constraints": dict(constraints or {})}
        self._title = title
        self._provider = make_provider(model) if isinstance(model, str) else model
        runner = None
        if isolation == "process":
            runner = ProcessRunner(limits=limits or ResourceLimits(memory_bytes=1 << 30, cpu_seconds=60))
        self._runner = runner
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._directory = Path(directory) if directory is not None else None
        self._store: RunStore | None = None
        self._worker: TaskWorker | None = None
        self.run_id = ""

    @property
    def store(self) -> RunStore:
        """The harness's store (inspect tasks, artifacts, ledger, model calls)."""
        if self._store is None:
            raise RuntimeError("the harness is not open: use `async with AgentHarness(...)`")
        return self._store

    async def open(self) -> None:
        """Create the store, the run and the worker."""
        if self._directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="ideamine-harness-")
            self._directory = Path(self._tmp.name)
        self._store = await open_sqlite(self._directory / "harness.sqlite3")
        run = await self._store.create_run(
            NewRun(
                tenant="harness",
                title=self._title,
                idea=self._idea,
                phases=tuple(self.catalogue.names),
                budget=BudgetLimits(),
                created_by="harness",
            )
        )
        self.run_id = run.id
        queue = open_queue("memory://")
        await queue.ensure()
        self._worker = TaskWorker(
            store=self._store,
            queue=queue,
            registry=self.registry,
            provider=self._provider,
            consumer=_CONSUMER,
            max_repairs=int(self.catalogue.defaults.retry.get("schema_repairs", 2)),
            runner=self._runner,
        )

    async def close(self) -> None:
        """Close everything and delete the temporary directory (idempotent)."""
        if self._worker is not None:
            await self._worker.queue.close()
            self._worker = None
        if self._store is not None:
            await self._store.close()
            self._store = None
        await self._provider.aclose()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def _owner(self, task_key: str) -> AgentEntry:
        """The agent that runs ``task_key``: a plugin's before a built-in, as in a phase plan."""
        owners = sorted((e for e in self.registry.agents if task_key in e.cls.tasks), key=lambda e: e.builtin)
        if not owners:
            raise InvalidInput(f"no registered agent handles task {task_key!r}", field="task_key")
        return owners[0]

    async def run(
        self,
        task_key: str,
        *,
        story: Mapping[str, Any] | None = None,
        feedback: Iterable[str] = (),
        check: bool = True,
    ) -> HarnessResult:
        """Run the task ``task_key`` once, through the worker, and return what it committed.

        Args:
            task_key: a catalogue task key or an extension task a plugin declares.
            story: the user story of a per-story task.
            feedback: gate findings of a previous attempt, as the engine passes them.
            check: raise :class:`~ideamine.errors.AgentError` when the task failed.

        Raises:
            InvalidInput: no registered agent handles ``task_key``.
            AgentError: the task failed (with ``check``); the message is the recorded one.
        """
        store, worker = self.store, self._worker
        assert worker is not None
        owner = self._owner(task_key)
        payload: dict[str, Any] = {"task": task_key, "feedback": list(feedback)}
        if story is not None:
            payload |= {"story_id": str(story.get("id", "")), "story": dict(story)}
        inputs = [a.sha256 for a in await store.list_artifacts(self.run_id)]
        [task] = await store.create_tasks(
            [
                NewTask(
                    run_id=self.run_id,
                    phase=owner.phase,
                    task_key=task_key if story is None else f"{task_key}:{payload['story_id']}",
                    agent=owner.name,
                    agent_version=owner.version,
                    idempotency_key=content_hash({"run": self.run_id, "task": payload, "inputs": inputs}),
                    input=payload,
                )
            ]
        )
        await worker.queue.publish([task_message(task)])
        deliveries = await worker.queue.consume(_CONSUMER, count=1)
        if not deliveries:  # the in-process queue hands out what was just published
            raise RuntimeError(f"task {task.id} was published but not delivered")
        await worker.handle(deliveries[0])
        result = HarnessResult(
            task=await store.get_task(task.id),
            artifacts=[a for a in await store.list_artifacts(self.run_id) if a.task_id == task.id],
            llm_calls=await store.list_llm_calls(task_id=task.id),
        )
        if check and result.error is not None:
            reason, retryable, message = result.error
            raise AgentError(f"task {task_key!r} failed ({reason}): {message}", retryable=retryable)
        return result

    async def run_phases(self, *phases: str) -> list[HarnessResult]:
        """Run every planned task of ``phases`` in dependency order (per-story tasks skipped).

        Gives an agent under test realistic upstream artifacts: with the offline model
        these are the same idea-specific artifacts ``ideamine run`` would write.
        """
        results: list[HarnessResult] = []
        for phase in phases:
            pending = [t for t in self.registry.plan(phase) if not t.per_story]
            done: set[str] = set()
            while pending:
                ready = [t for t in pending if set(t.after) <= done] or pending[:1]
                for t in ready:
                    results.append(await self.run(t.key))
                    done.add(t.key)
                pending = [t for t in pending if t.key not in done]
        return results

    async def seed(self, artifacts: Mapping[str, Mapping[str, Any]], *, phase: str | None = None) -> None:
        """Store hand-written upstream artifacts (type → content) as if a task had produced them.

        Args:
            artifacts: contents by artifact type (not validated: seed what you need).
            phase: the phase they belong to (default: the catalogue phase producing each type).
        """
        store = self.store
        for artifact_type, content in artifacts.items():
            owner = phase or next(
                (p.name for p in self.catalogue.phases if artifact_type in p.artifact_types), "intake"
            )
            [task] = await store.create_tasks(
                [
                    NewTask(
                        run_id=self.run_id,
                        phase=owner,
                        task_key=f"seed-{artifact_type}",  # no ":": that would make it a per-story key
                        agent="harness-seed",
                        agent_version="0",
                        idempotency_key=content_hash({"seed": artifact_type, "id": new_id()}),
                        input={},
                    )
                ]
            )
            await store.start_task(task.id, attempt=task.attempt, worker=_CONSUMER, lease_seconds=60)
            await store.commit_task_result(
                task.id,
                attempt=task.attempt,
                output={},
                artifacts=[NewArtifact(type=artifact_type, content=dict(content), model="seed")],
            )
