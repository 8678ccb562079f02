"""Traces: run → phase → attempt → (queue hop) → task → LLM call, in one trace."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from agent_host.worker import TaskWorker
from ideamine import tracing
from ideamine._proto.ideamine.v1 import catalog_pb2, catalog_pb2_grpc
from ideamine.catalogue import load_catalogue
from ideamine.enums import RunStatus
from ideamine.errors import InvalidInput
from ideamine.ids import new_id
from ideamine.llm.breaker import BreakerRegistry
from ideamine.llm.offline import OfflineProvider
from ideamine.plugins import AgentRegistry, get_plugin_manager
from ideamine.queue import RedisStreamsQueue
from ideamine.queue.reconciler import Reconciler
from ideamine.rpc import GrpcServer
from ideamine.runfile import load_run_file
from ideamine.store.records import NewRun
from ideamine.store.sqlite import open_sqlite
from ideamine.tracing import TracingSettings, settings_from_environ
from orchestrator.engine.deps import EngineDeps, EngineSettings
from orchestrator.engine.driver import RunDriver
from orchestrator.engine.signals import Waker
from tests.observability.conftest import EXAMPLES, ObservedRun
from tests.rpc.support import catalog_service


def _hex(span: ReadableSpan) -> str:
    assert span.context is not None
    return format(span.context.span_id, "016x")


def _kind(span: ReadableSpan) -> str:
    """run, phase, stage (``phase <name> dispatch|clarify``), task or llm."""
    words = span.name.split(" ")
    return "stage" if words[0] == "phase" and len(words) == 3 else words[0]


def _check_tree(spans: Sequence[ReadableSpan], *, tasks: int, calls: int) -> None:
    """One trace: run → phase → stage ⇢ task (remote parent) → llm, with the right counts."""
    by_id = {s.context.span_id: s for s in spans if s.context is not None}
    assert len({s.context.trace_id for s in spans if s.context is not None}) == 1
    kinds: dict[str, list[ReadableSpan]] = {}
    for s in spans:
        kinds.setdefault(_kind(s), []).append(s)
    (root,) = kinds["run"]
    assert root.parent is None and root.context is not None
    for phase in kinds["phase"]:
        assert phase.parent is not None and phase.parent.span_id == root.context.span_id
    assert {s.name.split(" ")[2] for s in kinds["stage"]} == {"dispatch", "clarify"}
    task_spans = kinds["task"]
    assert len(task_spans) == tasks
    for task in task_spans:
        assert task.parent is not None and task.parent.is_remote, (
            "the task span must continue the message's context"
        )
        stage = by_id[task.parent.span_id]
        assert _kind(stage) == "stage"
        assert stage.attributes is not None and task.attributes is not None
        assert stage.attributes["ideamine.phase"] == task.attributes["ideamine.phase"]
        assert stage.parent is not None
        assert by_id[stage.parent.span_id].name == f"phase {task.attributes['ideamine.phase']}"
    llm = kinds["llm"]
    assert len(llm) == calls
    task_ids = {t.context.span_id for t in task_spans if t.context is not None}
    for call in llm:
        assert call.parent is not None and call.parent.span_id in task_ids
        assert call.attributes is not None and int(str(call.attributes["gen_ai.usage.output_tokens"])) > 0


def test_embedded_run_is_one_trace_across_the_queue_hop(observed: ObservedRun) -> None:
    _check_tree(observed.spans, tasks=len(observed.tasks), calls=len(observed.calls))
    by_task = {
        s.attributes["ideamine.task.id"]
        for s in observed.spans
        if s.attributes and "ideamine.task.id" in s.attributes
    }
    assert by_task == {t.id for t in observed.tasks}
    tokens = sum(
        int(str(s.attributes["gen_ai.usage.input_tokens"]))
        for s in observed.spans
        if s.attributes and s.name.startswith("llm ")
    )
    assert tokens == sum(c.input_tokens for c in observed.calls)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use_tracer_provider(provider)
    yield exporter
    tracing.use_tracer_provider(None)
    provider.shutdown()


@pytest.fixture
async def redis_queues(redis_url: str) -> AsyncIterator[tuple[RedisStreamsQueue, RedisStreamsQueue]]:
    """Two clients of one Redis queue (fresh prefix): the orchestrator's and the agent host's."""
    prefix = f"test-trace-{new_id()}"
    orch = RedisStreamsQueue.from_url(redis_url, prefix=prefix)
    host = RedisStreamsQueue.from_url(redis_url, prefix=prefix)
    await orch.ensure()
    yield orch, host
    await orch.client.delete(*orch.keys.all())
    await orch.close()
    await host.close()


@pytest.mark.redis
async def test_trace_context_crosses_redis_from_the_engine_to_a_worker(
    tmp_path: Path, spans: InMemorySpanExporter, redis_queues: tuple[RedisStreamsQueue, RedisStreamsQueue]
) -> None:
    """The orchestrator side and the agent host side share only the store and Redis."""
    orch_queue, host_queue = redis_queues
    catalogue = load_catalogue()
    pm = get_plugin_manager()
    registry = AgentRegistry.from_plugin_manager(pm, catalogue)
    store = await open_sqlite(tmp_path / "db.sqlite3")
    worker = TaskWorker(
        store=store,
        queue=host_queue,
        registry=registry,
        provider=OfflineProvider(),
        consumer="host-1",
        breakers=BreakerRegistry(),
    )
    consuming = asyncio.create_task(worker.run())  # started outside any span
    try:
        request = load_run_file(str(EXAMPLES / "todo-app.yaml"))
        run = await store.create_run(
            NewRun(
                tenant="t",
                title="trace",
                idea=request.idea_document(),
                phases=("intake",),
                budget=request.budget,
            )
        )
        deps = EngineDeps(
            store=store,
            registry=registry,
            catalogue=catalogue,
            guards=[g for gs in pm.hook.ideamine_register_guards() for g in gs],
            waker=Waker(),
            flush_outbox=Reconciler(store, orch_queue).publish_outbox,
            settings=EngineSettings(poll_seconds=0.05),
        )
        final = await asyncio.wait_for(RunDriver(deps).drive(run.id), timeout=120)
        assert final.status is RunStatus.SUCCEEDED, final.status_reason
        tasks = await store.list_tasks(run.id)
        calls = await store.list_llm_calls(run_id=run.id)
    finally:
        worker.shutdown()
        await consuming
        await store.close()
    _check_tree(spans.get_finished_spans(), tasks=len(tasks), calls=len(calls))


def test_inject_outside_a_span_is_empty_and_round_trips_inside_one(spans: InMemorySpanExporter) -> None:
    assert tracing.inject_trace() == {}
    with tracing.phase_attempt_span("r1", "prd", 2) as span:
        carrier = tracing.inject_trace()
    ctx = span.get_span_context()
    assert carrier["traceparent"].startswith(f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-")
    parent = trace.get_current_span(tracing.extract_trace(carrier)).get_span_context()
    assert (parent.trace_id, parent.span_id, parent.is_remote) == (ctx.trace_id, ctx.span_id, True)
    assert not tracing.extract_trace({"traceparent": "garbage"})  # an unreadable context starts a new trace


def test_llm_span_records_failures(spans: InMemorySpanExporter) -> None:
    span = tracing.start_llm_span("anthropic", "m", "prd-writer")
    tracing.end_llm_span(
        span, model="m", input_tokens=3, output_tokens=0, cost_usd=0.0, error=TimeoutError("slow")
    )
    (done,) = spans.get_finished_spans()
    assert not done.status.is_ok and done.events[0].name == "exception"


@pytest.mark.parametrize(
    ("env", "embedded", "expected"),
    [
        ({}, True, TracingSettings("svc")),
        ({}, False, TracingSettings("svc")),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4317"}, True, TracingSettings("svc")),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4317"}, False, TracingSettings("svc", "otlp")),
        (
            {"OTEL_TRACES_EXPORTER": "console", "OTEL_SERVICE_NAME": "x"},
            True,
            TracingSettings("x", "console"),
        ),
        (
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"},
            True,
            TracingSettings("svc", "otlp", "http/protobuf"),
        ),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, False, TracingSettings("svc")),
        (
            {"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://j:4317"},
            False,
            TracingSettings("svc"),
        ),
    ],
)
def test_settings_follow_the_standard_variables(
    env: dict[str, str], embedded: bool, expected: TracingSettings
) -> None:
    assert settings_from_environ(env, service_name="svc", embedded=embedded) == expected


@pytest.mark.parametrize(
    ("env", "field"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER"),
        (
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "carrier-pigeon"},
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ),
    ],
)
def test_bad_settings_are_refused_with_the_variable_named(env: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        settings_from_environ(env, service_name="svc", embedded=False)
    assert [v.field for v in err.value.violations] == [field]


def test_tracing_off_installs_nothing() -> None:
    assert tracing.configure_tracing(TracingSettings("svc")) is None


async def test_grpc_server_and_client_spans_continue_the_callers_trace(spans: InMemorySpanExporter) -> None:
    async with GrpcServer(services=[catalog_service()]) as server:  # instrumented: tracing is on
        with tracing.run_span("r-1") as caller:
            interceptors = tracing.grpc_client_interceptors()
            async with grpc.aio.insecure_channel(server.address, interceptors=interceptors) as channel:
                await catalog_pb2_grpc.CatalogServiceStub(channel).ListPhases(catalog_pb2.ListPhasesRequest())
    by_kind = {s.kind: s for s in spans.get_finished_spans() if "ListPhases" in s.name}
    client, served = by_kind[SpanKind.CLIENT], by_kind[SpanKind.SERVER]
    ctx = caller.get_span_context()
    assert client.parent is not None and client.parent.span_id == ctx.span_id
    assert served.parent is not None and client.context is not None
    assert served.parent.span_id == client.context.span_id and served.parent.is_remote
    assert served.context is not None and served.context.trace_id == ctx.trace_id


def test_grpc_instrumentation_is_absent_while_tracing_is_off() -> None:
    assert tracing.grpc_server_interceptors() == [] and tracing.grpc_client_interceptors() == []
