"""OpenTelemetry tracing: set-up from the standard ``OTEL_*`` variables and IdeaMine's spans.

One trace per driven run::

    run                                   (orchestrator: RunDriver.drive)
    └─ phase <name>                       (PhaseRunner.run_phase; gate evaluations are events)
       └─ phase <name> dispatch|clarify   (one stage of one gate-loop attempt)
          └─ task <agent>                 (agent host, CONSUMER; parent taken from the message)
             └─ llm <model>               (MeteredLLM, one per model call incl. repairs)

The queue hop is the interesting part: the orchestrator writes the W3C trace context of
the stage span into the task's outbox payload (:func:`inject_trace`), the relay copies
it into :attr:`TaskMessage.trace`, and the agent host continues it (:func:`task_span`),
so one trace crosses processes even though the message may be published much later, by
another replica, or re-published after Redis lost it.

Set-up (:func:`configure_tracing`) follows the OpenTelemetry SDK conventions:
``OTEL_TRACES_EXPORTER`` (``otlp``, ``console``, ``none``), ``OTEL_EXPORTER_OTLP_ENDPOINT``
/ ``..._TRACES_ENDPOINT``, ``OTEL_EXPORTER_OTLP_PROTOCOL`` (``grpc``, ``http/protobuf``),
``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER``,
``OTEL_SDK_DISABLED``. Services export when an exporter or an OTLP endpoint is configured;
the embedded mode (``ideamine run``) only when ``OTEL_TRACES_EXPORTER`` asks for it — a
laptop run must not try to reach a collector. Unconfigured, the helpers below cost a
no-op span each.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from ideamine.errors import InvalidInput
from ideamine.logs import bind

if TYPE_CHECKING:  # the queue package imports the store, which imports this module
    from ideamine.queue.message import TaskMessage

__all__ = [
    "Span",
    "TracingSettings",
    "configure_tracing",
    "end_llm_span",
    "extract_trace",
    "grpc_client_interceptors",
    "grpc_server_interceptors",
    "inject_trace",
    "phase_attempt_span",
    "phase_span",
    "record_error",
    "run_span",
    "settings_from_environ",
    "shutdown_tracing",
    "start_llm_span",
    "task_span",
    "tracer",
    "use_tracer_provider",
]

log = logging.getLogger(__name__)

TRACER_NAME = "ideamine"
_EXPORTERS = ("otlp", "console", "none")
_PROTOCOLS = ("grpc", "http/protobuf")
_PROPAGATOR = TraceContextTextMapPropagator()

#: the provider configure_tracing/use_tracer_provider installed; None = the global one
_provider: trace.TracerProvider | None = None


@dataclass(frozen=True)
class TracingSettings:
    """How (and whether) to export spans.

    Attributes:
        service_name: ``service.name`` of the resource (``OTEL_SERVICE_NAME`` overrides).
        exporter: ``otlp``, ``console`` or ``none`` (tracing off).
        protocol: OTLP transport, ``grpc`` or ``http/protobuf``.
    """

    service_name: str
    exporter: str = "none"
    protocol: str = "grpc"

    @property
    def enabled(self) -> bool:
        """Whether spans are recorded and exported at all."""
        return self.exporter != "none"


def settings_from_environ(
    environ: Mapping[str, str], *, service_name: str, embedded: bool
) -> TracingSettings:
    """Read the standard ``OTEL_*`` variables (``ideamine.config`` passes ``os.environ``).

    Args:
        environ: the environment.
        service_name: default ``service.name`` (``ideamine-orchestrator``, ...).
        embedded: the one-process mode, where tracing stays off unless
            ``OTEL_TRACES_EXPORTER`` names an exporter.

    Raises:
        InvalidInput: an unknown exporter or OTLP protocol.
    """
    name = environ.get("OTEL_SERVICE_NAME", "").strip() or service_name
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return TracingSettings(name)
    raw = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    exporter = raw.split(",")[0].strip() if raw else ""
    if exporter and exporter not in _EXPORTERS:
        raise InvalidInput(
            f"OTEL_TRACES_EXPORTER must be one of {', '.join(_EXPORTERS)}, not {raw!r}",
            field="OTEL_TRACES_EXPORTER",
        )
    if not exporter:
        endpoint = any(
            environ.get(k, "").strip()
            for k in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        )
        exporter = "otlp" if endpoint and not embedded else "none"
    protocol = (
        environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "").strip()
        or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "").strip()
        or "grpc"
    ).lower()
    if protocol not in _PROTOCOLS:
        raise InvalidInput(
            f"OTEL_EXPORTER_OTLP_PROTOCOL must be one of {', '.join(_PROTOCOLS)}, not {protocol!r}",
            field="OTEL_EXPORTER_OTLP_PROTOCOL",
        )
    return TracingSettings(name, exporter, protocol)


def _exporter(settings: TracingSettings) -> SpanExporter:
    if settings.exporter == "console":
        return ConsoleSpanExporter(service_name=settings.service_name)
    if settings.protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

        return HttpExporter()
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

    return GrpcExporter()  # endpoint, headers, TLS: from OTEL_EXPORTER_OTLP_* by the exporter


def configure_tracing(settings: TracingSettings) -> TracerProvider | None:
    """Install a global tracer provider exporting as ``settings`` say; None when tracing is off.

    Call once per process, at start-up, before serving (the gRPC instrumentation reads the
    global provider). The OTLP exporter batches in a background thread; call
    :func:`shutdown_tracing` on exit to flush.
    """
    if not settings.enabled:
        return None
    resource = Resource.create({SERVICE_NAME: settings.service_name})  # + OTEL_RESOURCE_ATTRIBUTES
    provider = TracerProvider(resource=resource)  # sampler from OTEL_TRACES_SAMPLER
    provider.add_span_processor(BatchSpanProcessor(_exporter(settings)))
    trace.set_tracer_provider(provider)
    use_tracer_provider(provider)
    log.info("tracing: exporting spans of %s with %s", settings.service_name, settings.exporter)
    return provider


def use_tracer_provider(provider: trace.TracerProvider | None) -> None:
    """Make IdeaMine's spans go to ``provider`` (None: the global one). Tests use it."""
    global _provider
    _provider = provider


def shutdown_tracing() -> None:
    """Flush and stop the provider :func:`configure_tracing` installed (no-op otherwise)."""
    shutdown = getattr(_provider, "shutdown", None)
    if shutdown is not None:
        shutdown()


def tracer() -> trace.Tracer:
    """IdeaMine's tracer on the configured provider."""
    return (_provider or trace.get_tracer_provider()).get_tracer(TRACER_NAME)


# ----------------------------------------------------------------- propagation
def inject_trace(context: Context | None = None) -> dict[str, str]:
    """The W3C trace context (``traceparent``, ``tracestate``) of the current span; {} if none."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=context)
    return carrier


def extract_trace(carrier: Mapping[str, str]) -> Context:
    """A context whose (remote) parent is the span ``carrier`` describes; empty if invalid."""
    return _PROPAGATOR.extract(dict(carrier))


# ------------------------------------------------------------------- spans
@contextmanager
def run_span(run_id: str) -> Iterator[Span]:
    """The root span of one drive of a run; binds ``run_id`` for logs."""
    with (
        bind(run_id=run_id),
        tracer().start_as_current_span("run", attributes={"ideamine.run.id": run_id}) as s,
    ):
        yield s


@contextmanager
def phase_span(run_id: str, phase: str) -> Iterator[Span]:
    """One phase of a run (all its attempts); binds ``phase`` for logs."""
    attrs = {"ideamine.run.id": run_id, "ideamine.phase": phase}
    with (
        bind(run_id=run_id, phase=phase),
        tracer().start_as_current_span(f"phase {phase}", attributes=attrs) as s,
    ):
        yield s


@contextmanager
def phase_attempt_span(run_id: str, phase: str, attempt: int, *, stage: str = "dispatch") -> Iterator[Span]:
    """One stage (``dispatch``, ``clarify``) of a gate-loop attempt; its tasks are parented here."""
    attrs: dict[str, AttributeValue] = {
        "ideamine.run.id": run_id,
        "ideamine.phase": phase,
        "ideamine.phase.attempt": attempt,
        "ideamine.phase.stage": stage,
    }
    with tracer().start_as_current_span(f"phase {phase} {stage}", attributes=attrs) as s:
        yield s


@contextmanager
def task_span(message: TaskMessage) -> Iterator[Span]:
    """A worker's handling of one task message, continuing the trace the message carries."""
    attrs: dict[str, AttributeValue] = {
        "ideamine.run.id": message.run_id,
        "ideamine.phase": message.phase,
        "ideamine.task.id": message.task_id,
        "ideamine.task.attempt": message.attempt,
        "ideamine.agent": message.agent,
    }
    with (
        bind(run_id=message.run_id, phase=message.phase, task_id=message.task_id),
        tracer().start_as_current_span(
            f"task {message.agent}",
            context=extract_trace(message.trace),
            kind=SpanKind.CONSUMER,
            attributes=attrs,
        ) as s,
    ):
        yield s


def record_error(exc: BaseException) -> None:
    """Mark the current span failed with ``exc`` (for errors that are handled, not raised)."""
    span = trace.get_current_span()
    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, str(exc)[:200]))


def start_llm_span(provider: str, model: str, agent: str) -> Span:
    """Start (not activate) the span of one model call, a child of the current span."""
    return tracer().start_span(
        f"llm {model}",
        kind=SpanKind.CLIENT,
        attributes={"gen_ai.system": provider, "gen_ai.request.model": model, "ideamine.agent": agent},
    )


def end_llm_span(
    span: Span,
    *,
    model: str,
    input_tokens: int,
    output_tokens: int,
    cost_usd: float,
    error: BaseException | None,
) -> None:
    """Record usage and outcome on a span from :func:`start_llm_span` and end it."""
    attrs: dict[str, Any] = {
        "gen_ai.response.model": model,
        "gen_ai.usage.input_tokens": input_tokens,
        "gen_ai.usage.output_tokens": output_tokens,
        "ideamine.llm.cost_usd": cost_usd,
    }
    span.set_attributes(attrs)
    if error is not None:
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, str(getattr(error, "reason", type(error).__name__))))
    span.end()


# -------------------------------------------------------------------- gRPC
def grpc_server_interceptors() -> list[Any]:
    """OpenTelemetry's ``grpc.aio`` server interceptor when tracing is configured, else none.

    :class:`~ideamine.rpc.GrpcServer` installs it on every server: a span per RPC,
    continuing the caller's trace from the ``traceparent`` metadata.
    """
    if _provider is None:
        return []
    from opentelemetry.instrumentation.grpc import aio_server_interceptor

    return [aio_server_interceptor(tracer_provider=_provider)]  # type: ignore[no-untyped-call]


def grpc_client_interceptors() -> list[Any]:
    """OpenTelemetry's ``grpc.aio`` client interceptors (a client span; context sent to the server).

    For ``grpc.aio.insecure_channel(addr, interceptors=grpc_client_interceptors())``; none
    when tracing is not configured.
    """
    if _provider is None:
        return []
    from opentelemetry.instrumentation.grpc import aio_client_interceptors

    return list(aio_client_interceptors(tracer_provider=_provider))  # type: ignore[no-untyped-call]
