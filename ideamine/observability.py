"""Observability set-up for the composition roots: ``ideamine run`` and the services.

One call per process wires logs, traces and metrics the same way everywhere:

- :func:`setup_embedded` — ``ideamine run``/``resume``: readable log lines on stderr
  (warnings and worse: the progress printer already narrates the run), tracing only when
  ``OTEL_TRACES_EXPORTER`` asks for it, no metrics endpoint (nothing scrapes a laptop run).
- :func:`setup_service` — ``ideamine serve …``: JSON log lines, tracing from the standard
  ``OTEL_*`` variables and ``/metrics`` on ``--metrics-port`` (same interface as the gRPC
  listener). Call it before building the server: :class:`~ideamine.rpc.GrpcServer` adds
  gRPC RED metrics always and OpenTelemetry server spans once tracing is configured::

      obs = setup_service("ideamine-orchestrator", metrics_port=9464, listen=cfg.listen)
      try:
          asyncio.run(OrchestratorServer(cfg).run())
      finally:
          obs.close()
"""

from __future__ import annotations

from dataclasses import dataclass

from ideamine.config import tracing_settings_from_env
from ideamine.errors import InvalidInput
from ideamine.logs import configure_logging
from ideamine.metrics import MetricsServer, start_metrics_server
from ideamine.tracing import configure_tracing, shutdown_tracing

__all__ = ["ServiceObservability", "setup_embedded", "setup_service"]


def setup_embedded(*, log_level: str = "WARNING") -> None:
    """Logs and (opt-in) tracing for the one-process mode."""
    configure_logging(json_lines=False, level=log_level)
    configure_tracing(tracing_settings_from_env("ideamine-embedded", embedded=True))


@dataclass
class ServiceObservability:
    """What :func:`setup_service` started; :meth:`close` on shutdown."""

    metrics: MetricsServer | None

    def close(self) -> None:
        """Stop the metrics endpoint and flush pending spans (idempotent)."""
        if self.metrics is not None:
            self.metrics.close()
            self.metrics = None
        shutdown_tracing()


def _metrics_host(listen: str) -> str:
    host = listen.rsplit(":", 1)[0] if ":" in listen else listen
    return host.strip("[]") or "127.0.0.1"


def setup_service(
    service_name: str, *, metrics_port: int | None, listen: str, log_level: str = "INFO"
) -> ServiceObservability:
    """JSON logs, tracing from ``OTEL_*`` and ``/metrics`` for a service process.

    Args:
        service_name: ``service.name`` of its spans, e.g. ``ideamine-orchestrator``.
        metrics_port: port of ``/metrics`` (9464 orchestrator, 9465 agent host; 0 = any
            free port); None serves no endpoint.
        listen: the gRPC listen address; ``/metrics`` binds the same interface, so a
            container listening on ``0.0.0.0`` is scrapeable and a laptop stays on loopback.
        log_level: root log level.

    Raises:
        InvalidInput: the metrics port cannot be bound, or the ``OTEL_*`` settings are bad.
    """
    if metrics_port is not None and not 0 <= metrics_port <= 65535:
        raise InvalidInput(f"--metrics-port must be 0-65535, not {metrics_port}", field="metrics_port")
    configure_logging(json_lines=True, level=log_level)
    configure_tracing(tracing_settings_from_env(service_name, embedded=False))
    server = None
    if metrics_port is not None:
        host = _metrics_host(listen)
        try:
            server = start_metrics_server(metrics_port, host)
        except OSError as exc:
            raise InvalidInput(
                f"cannot serve metrics on {host}:{metrics_port}: {exc.strerror or exc}", field="metrics_port"
            ) from None
    return ServiceObservability(server)
