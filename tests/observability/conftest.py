"""One real embedded run, observed: metrics scraped over HTTP before and after, spans in memory.

The run (the todo example: SQLite, in-process queue, offline model) is shared by the
metric and trace tests of this package; it takes a few seconds, so it runs once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ideamine import tracing
from ideamine.embedded import EmbeddedRuntime
from ideamine.enums import RunStatus
from ideamine.llm.offline import OfflineProvider
from ideamine.metrics import start_metrics_server
from ideamine.runfile import load_run_file
from ideamine.store.records import GateEvaluationRecord, LLMCallRecord, RunRecord, TaskRecord
from tests.observability.scrape import Scrape, scrape

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "orchestrations"


@dataclass(frozen=True)
class ObservedRun:
    """What the run left behind: the store's truth, two scrapes and the spans."""

    run: RunRecord
    tasks: list[TaskRecord]
    calls: list[LLMCallRecord]
    gates: list[GateEvaluationRecord]
    before: Scrape
    during: Scrape  #: scraped right after the drive, before the runtime closed
    after: Scrape
    spans: tuple[ReadableSpan, ...]


async def _run(db: Path, port: int) -> ObservedRun:
    request = load_run_file(str(EXAMPLES / "todo-app.yaml"))
    before = await asyncio.to_thread(scrape, port)
    async with EmbeddedRuntime(db_path=db, provider=OfflineProvider()) as rt:
        run = await rt.drive((await rt.submit(request)).id)
        during = await asyncio.to_thread(scrape, port)
        tasks = await rt.store.list_tasks(run.id)
        calls = await rt.store.list_llm_calls(run_id=run.id)
        gates = await rt.store.list_gate_evaluations(run.id)
    after = await asyncio.to_thread(scrape, port)
    return ObservedRun(run, tasks, calls, gates, before, during, after, ())


@pytest.fixture(scope="package")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObservedRun]:
    """Run the todo example once with metrics served on a real socket and spans recorded."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use_tracer_provider(provider)
    server = start_metrics_server(0)
    try:
        db = tmp_path_factory.mktemp("observed") / "db.sqlite3"
        observed = asyncio.run(_run(db, server.port))
        assert observed.run.status is RunStatus.SUCCEEDED, observed.run.status_reason
        yield replace(observed, spans=tuple(exporter.get_finished_spans()))
    finally:
        server.close()
        tracing.use_tracer_provider(None)
        provider.shutdown()
