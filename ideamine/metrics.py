"""Every Prometheus metric IdeaMine exports, defined once.

Each service process imports this module and so registers every family on the default
registry: a family a process never touches is exported with its HELP/TYPE lines and no
samples, which costs nothing and lets dashboards and alerts rely on one list of names
(``tests/observability`` checks every name they use is defined here).

Rules:

- names start with ``ideamine_``; counters end in ``_total``, units are in the name
  (``_seconds``, ``_usd``, ``_ratio``);
- labels are bounded enumerations only — :data:`ALLOWED_LABELS` — never run, task or
  question ids, which would give every run its own time series;
- instrumented code calls the small ``observe_*``/``task_*`` helpers below (one line per
  site) rather than building label sets itself, so each label set is spelled once.

Services expose the registry with :func:`start_metrics_server` (``--metrics-port``;
9464 for the orchestrator and 9465 for the agent host by convention).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from typing import Final
from wsgiref.simple_server import WSGIServer

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, Info, start_http_server

__all__ = [
    "ALLOWED_LABELS",
    "CIRCUIT_STATE_VALUES",
    "MetricsServer",
    "observe_gate",
    "observe_circuit",
    "observe_llm_call",
    "start_metrics_server",
    "task_finished",
    "task_running",
    "worker_slots",
]

#: every label name an IdeaMine metric may carry; each has a small, code-defined value set
ALLOWED_LABELS: Final = frozenset(
    {
        "phase",  # catalogue phase names (13)
        "agent",  # registered agent names
        "provider",  # anthropic | offline | replay
        "model",  # model names of the price table
        "status",  # run/task/phase/call status enums
        "decision",  # gate decision: pass | warn | fail
        "direction",  # tokens: input | output
        "reason",  # error-tree reason codes, requeue reasons
        "dependency",  # health check names: postgres, redis, ...
        "service",  # gRPC service full names
        "method",  # gRPC method names
        "code",  # gRPC status code names
        "version",  # ideamine_build_info: the installed version
    }
)

_SECONDS_SHORT = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
_SECONDS_LONG = (0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)
_RUN_SECONDS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 86400)
_USD = (0.0, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250)

# ---------------------------------------------------------------------------- runs
RUNS_ACTIVE = Gauge("ideamine_runs_active", "Runs this process is driving right now.")
RUNS_COMPLETED = Counter(
    "ideamine_runs_completed", "Runs that left RUNNING, by the status they stopped or ended in.", ["status"]
)
RUN_DURATION = Histogram(
    "ideamine_run_duration_seconds",
    "Wall time from a run's creation to its terminal status (succeeded, failed, cancelled).",
    ["status"],
    buckets=_RUN_SECONDS,
)
RUN_COST = Histogram(
    "ideamine_run_cost_usd",
    "USD a run spent on models, observed at its terminal status.",
    ["status"],
    buckets=_USD,
)
RUN_BUDGET_UTILISATION = Histogram(
    "ideamine_run_budget_utilisation_ratio",
    "Share of its budget (the larger of tokens and USD) a run had used when it stopped or ended.",
    buckets=(0.1, 0.25, 0.5, 0.8, 0.95, 1.0),
)

# -------------------------------------------------------------------------- phases
PHASE_DURATION = Histogram(
    "ideamine_phase_duration_seconds",
    "Wall time of one phase run (all its attempts), by phase and outcome.",
    ["phase", "status"],
    buckets=_SECONDS_LONG,
)
PHASE_COMPLETIONS = Counter(
    "ideamine_phase_completions",
    "Phase runs that ended, by outcome (succeeded, needs_waiver, failed, budget_exhausted, stopped).",
    ["phase", "status"],
)
PHASE_ERRORS = Counter(
    "ideamine_phase_errors",
    "Phase runs that ended badly: failed, needs a waiver, or raised (reason says which).",
    ["phase", "reason"],
)
PHASE_ATTEMPTS = Counter(
    "ideamine_phase_attempts", "Phase attempts started (gate loops add attempts).", ["phase"]
)
PHASE_BUDGET_TOKENS = Counter(
    "ideamine_phase_budget_tokens",
    "Token budgets of phases that finished for good (succeeded, failed, needs a waiver): tokens vs budget.",
    ["phase"],
)
BUDGET_UTILISATION = Gauge(
    "ideamine_budget_utilisation_ratio",
    "Share of its budget (the larger of tokens and USD) the last finished phase of this name used.",
    ["phase"],
)
GATE_EVALUATIONS = Counter(
    "ideamine_gate_evaluations", "Gate evaluations by phase and decision.", ["phase", "decision"]
)
GATE_SCORE = Histogram(
    "ideamine_gate_score", "Gate scores (0-100) by phase.", ["phase"], buckets=tuple(range(10, 101, 10))
)

# --------------------------------------------------------------------------- tasks
TASKS_PUBLISHED = Counter("ideamine_tasks_published", "Task messages published to the queue from the outbox.")
TASKS_REPUBLISHED = Counter(
    "ideamine_tasks_republished",
    "Unfinished tasks re-published because their message was missing from the queue.",
)
TASKS_REQUEUED = Counter(
    "ideamine_tasks_requeued",
    "Tasks put back on the queue with a new attempt, by reason.",
    ["phase", "reason"],
)
TASKS_STARTED = Counter("ideamine_tasks_started", "Tasks a worker started running, by agent.", ["agent"])
TASKS_COMPLETED = Counter(
    "ideamine_tasks_completed",
    "Task attempts that ended, by agent and status (succeeded, failed, dead).",
    ["agent", "status"],
)
TASKS_RUNNING = Gauge("ideamine_tasks_running", "Tasks running in this process, by agent.", ["agent"])
TASK_QUEUE_WAIT = Histogram(
    "ideamine_task_queue_wait_seconds",
    "Time a task attempt waited between being queued and a worker starting it.",
    ["agent"],
    buckets=_SECONDS_SHORT,
)
TASK_RUN_TIME = Histogram(
    "ideamine_task_run_seconds",
    "Time a worker spent on one task attempt, by agent.",
    ["agent"],
    buckets=_SECONDS_LONG,
)
TASK_REDELIVERIES = Counter(
    "ideamine_task_redeliveries",
    "Task messages delivered more than once (consumer crash or lease expiry).",
    ["agent"],
)
IDEMPOTENT_HITS = Counter(
    "ideamine_task_idempotent_hits",
    "Deliveries acknowledged without running the agent: the idempotency key already had a result.",
    ["agent"],
)
DEAD_LETTERS = Counter(
    "ideamine_dead_letters", "Queue entries moved to the dead-letter stream (deliveries exhausted)."
)
HOST_SLOTS = Gauge("ideamine_agent_host_slots", "Task slots (worker concurrency) in this process.")
HOST_BUSY = Gauge("ideamine_agent_host_busy_slots", "Task slots handling a delivery right now.")

# ----------------------------------------------------------------------------- LLM
LLM_REQUESTS = Counter(
    "ideamine_llm_requests",
    "Model calls, by provider, model, agent and status (ok, error).",
    ["provider", "model", "agent", "status"],
)
LLM_TOKENS = Counter(
    "ideamine_llm_tokens",
    "Model tokens, by provider, model, agent, phase and direction (input, output).",
    ["provider", "model", "agent", "phase", "direction"],
)
LLM_COST = Counter(
    "ideamine_llm_cost_usd",
    "USD spent on model calls, by provider, model, agent and phase.",
    ["provider", "model", "agent", "phase"],
)
LLM_ERRORS = Counter(
    "ideamine_llm_errors",
    "Failed or refused model calls, by provider, model and error reason.",
    ["provider", "model", "reason"],
)
LLM_LATENCY = Histogram(
    "ideamine_llm_request_duration_seconds",
    "Model call latency (retries included).",
    ["provider", "model"],
    buckets=_SECONDS_SHORT,
)
LLM_CIRCUIT = Gauge(
    "ideamine_llm_circuit_state",
    "Circuit breaker state per provider/model: 0 closed, 1 half-open, 2 open.",
    ["provider", "model"],
)
#: value of ``ideamine_llm_circuit_state`` per ``BreakerState.value``
CIRCUIT_STATE_VALUES: Final = {"closed": 0, "half_open": 1, "open": 2}

# ---------------------------------------------------------------- services, gRPC
DEPENDENCY_UP = Gauge(
    "ideamine_dependency_up",
    "1 while the service's health check of a dependency passes, else 0.",
    ["dependency"],
)
GRPC_STARTED = Counter("ideamine_grpc_server_started", "RPCs started on the server.", ["service", "method"])
GRPC_HANDLED = Counter(
    "ideamine_grpc_server_handled",
    "RPCs completed on the server, by status code.",
    ["service", "method", "code"],
)
GRPC_LATENCY = Histogram(
    "ideamine_grpc_server_handling_seconds",
    "Server-side RPC latency (to the last message for streams).",
    ["service", "method"],
    buckets=_SECONDS_SHORT,
)
BUILD = Info("ideamine_build", "The running IdeaMine version.")
try:
    BUILD.info({"version": metadata.version("ideamine")})
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    BUILD.info({"version": "unknown"})


# ------------------------------------------------------------------------ helpers
def observe_gate(phase: str, decision: str, score: float) -> None:
    """Count one gate evaluation and observe its score."""
    GATE_EVALUATIONS.labels(phase=phase, decision=decision).inc()
    GATE_SCORE.labels(phase=phase).observe(score)


@contextmanager
def task_running(agent: str, queued_at: datetime) -> Iterator[None]:
    """A worker runs an attempt that was queued at ``queued_at`` (aware): count, wait, run time."""
    TASKS_STARTED.labels(agent=agent).inc()
    TASK_QUEUE_WAIT.labels(agent=agent).observe(max((datetime.now(UTC) - queued_at).total_seconds(), 0.0))
    running = TASKS_RUNNING.labels(agent=agent)
    running.inc()
    started = time.monotonic()
    try:
        yield
    finally:
        running.dec()
        TASK_RUN_TIME.labels(agent=agent).observe(time.monotonic() - started)


def task_finished(agent: str, status: str) -> None:
    """An attempt ended: ``succeeded``, ``failed`` or ``dead`` (deliveries exhausted)."""
    TASKS_COMPLETED.labels(agent=agent, status=status).inc()


@contextmanager
def worker_slots(slots: int) -> Iterator[None]:
    """Count a worker's ``slots`` in the host's capacity while it runs."""
    HOST_SLOTS.inc(slots)
    try:
        yield
    finally:
        HOST_SLOTS.dec(slots)


def observe_llm_call(
    *,
    provider: str,
    model: str,
    agent: str,
    phase: str | None,
    error_reason: str | None,
    input_tokens: int,
    output_tokens: int,
    cost_usd: float,
    seconds: float,
) -> None:
    """Record one model call (or a refusal by the open circuit).

    Args:
        error_reason: None for a successful call, else the error's reason code
            (``LLM_RETRYABLE``, ``LLM_CIRCUIT_OPEN`` ...).
    """
    status = "ok" if error_reason is None else "error"
    LLM_REQUESTS.labels(provider=provider, model=model, agent=agent, status=status).inc()
    if error_reason is not None:
        LLM_ERRORS.labels(provider=provider, model=model, reason=error_reason).inc()
    ph = phase or ""
    LLM_TOKENS.labels(provider=provider, model=model, agent=agent, phase=ph, direction="input").inc(
        input_tokens
    )
    LLM_TOKENS.labels(provider=provider, model=model, agent=agent, phase=ph, direction="output").inc(
        output_tokens
    )
    LLM_COST.labels(provider=provider, model=model, agent=agent, phase=ph).inc(cost_usd)
    LLM_LATENCY.labels(provider=provider, model=model).observe(seconds)


def observe_circuit(provider: str, model: str, state: str) -> None:
    """Publish a breaker's state (``closed``, ``half_open``, ``open``) under its provider/model key."""
    LLM_CIRCUIT.labels(provider=provider, model=model).set(CIRCUIT_STATE_VALUES.get(state, 0))


class MetricsServer:
    """A running ``/metrics`` HTTP endpoint (a daemon thread); :meth:`close` stops it."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def port(self) -> int:
        """The bound port (the real one when port 0 was asked for)."""
        return int(self._server.server_port)

    def close(self) -> None:
        """Stop serving and release the port (idempotent)."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start_metrics_server(
    port: int, addr: str = "127.0.0.1", registry: CollectorRegistry = REGISTRY
) -> MetricsServer:
    """Serve ``registry`` at ``http://addr:port/metrics`` from a background thread.

    Args:
        port: 9464 (orchestrator) or 9465 (agent host) by convention; 0 picks a free port.
        addr: ``0.0.0.0`` in containers so Prometheus can scrape; loopback otherwise.
        registry: the default registry, which holds every metric of this module.

    Raises:
        OSError: the port is taken.
    """
    server, thread = start_http_server(port, addr=addr, registry=registry)
    return MetricsServer(server, thread)
