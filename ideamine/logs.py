"""Structured logging: JSON lines for services, a readable line format for the terminal.

Every record carries the run/phase/task ids of the work it belongs to, taken from a
context variable rather than from each call site, so ``log.warning("retrying")`` deep in
the store still says which task it was about. :func:`bind` sets ids for a block (asyncio
tasks inherit them, as they inherit every context variable); the tracing helpers bind
them together with their spans. The OpenTelemetry trace and span ids of the current span
are added too, so a log line leads to its trace in Jaeger and back.

Two formats, one set of fields:

- :class:`JsonFormatter` — one JSON object per line (``ts``, ``level``, ``logger``,
  ``message``, ``run_id``, ``phase``, ``task_id``, ``trace_id``, ``span_id``, ``exc``) for
  the services, where a collector parses them;
- :class:`TerminalFormatter` — ``12:00:01 WARNING engine: message [run=… phase=…]`` for
  ``ideamine run``, where a person reads them.

Services call ``configure_logging(json_lines=True)``; the CLI calls
``configure_logging(json_lines=False)``.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, TextIO

from opentelemetry import trace

__all__ = [
    "CONTEXT_FIELDS",
    "JsonFormatter",
    "TerminalFormatter",
    "bind",
    "bound_ids",
    "configure_logging",
    "unconfigure_logging",
]

#: ids a log record may carry from the context, in output order
CONTEXT_FIELDS = ("run_id", "phase", "task_id")

_IDS: ContextVar[Mapping[str, str]] = ContextVar("ideamine_log_ids", default=MappingProxyType({}))

#: attributes every LogRecord has; anything else was passed through ``extra=`` and is kept
_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}

#: handlers installed by configure_logging, so calling it again replaces rather than stacks them
_INSTALLED: list[logging.Handler] = []


@contextmanager
def bind(**ids: str | None) -> Iterator[None]:
    """Attach ids (``run_id``, ``phase``, ``task_id``) to every record logged in the block.

    Ids bound by an enclosing block stay unless overridden; ``None`` values are ignored.
    """
    if unknown := set(ids) - set(CONTEXT_FIELDS):
        raise ValueError(f"unknown log context fields: {sorted(unknown)}")
    merged = {**_IDS.get(), **{k: str(v) for k, v in ids.items() if v is not None}}
    token = _IDS.set(merged)
    try:
        yield
    finally:
        _IDS.reset(token)


def bound_ids() -> dict[str, str]:
    """The ids bound in the current context (run, phase, task) plus the current trace ids."""
    out = dict(_IDS.get())
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        out["trace_id"] = format(ctx.trace_id, "032x")
        out["span_id"] = format(ctx.span_id, "016x")
    return out


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _RESERVED and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with the context ids and any ``extra=`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as a single line of JSON."""
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        doc.update(bound_ids())
        doc.update(_extras(record))
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        elif record.stack_info:
            doc["stack"] = self.formatStack(record.stack_info)
        return json.dumps(doc, default=str, ensure_ascii=False)


class TerminalFormatter(logging.Formatter):
    """``HH:MM:SS LEVEL logger: message [run=abcd1234 phase=prd task=ef567890]``.

    Ids are shortened to 8 characters: enough to tell runs apart on one screen.
    """

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as one readable line (plus the traceback, if any)."""
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        name = record.name.rsplit(".", 1)[-1]
        ids = _IDS.get()
        tags = " ".join(
            f"{field.removesuffix('_id')}={ids[field][:8] if field.endswith('_id') else ids[field]}"
            for field in CONTEXT_FIELDS
            if field in ids
        )
        line = f"{when} {record.levelname:<7} {name}: {record.getMessage()}"
        if tags:
            line += f" [{tags}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class _LiveStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record is emitted.

    A handler that kept the stream it was built with would write to a closed file once a
    test harness (or a tool embedding the CLI) swaps ``sys.stderr`` back.
    """

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


class _OneLineReconnects(logging.Filter):
    """asyncpg's pool logs a full traceback every time it fails to reopen a connection.

    While PostgreSQL restarts that is one traceback per pooled connection per retry: pages
    of stack for one known condition. The record keeps its level and gains the reason
    (``ConnectionRefusedError: …``) on the same line; the stack is dropped.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            record.msg = f"{record.getMessage()} ({type(exc).__name__}: {exc})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


#: loggers whose connection-retry warnings are kept to one line
_RECONNECT_LOGGERS = ("asyncpg.pool",)
_RECONNECT_FILTER = _OneLineReconnects()


def configure_logging(
    *, json_lines: bool, level: int | str = logging.INFO, stream: TextIO | None = None
) -> None:
    """Route the root logger to ``stream`` (stderr) in the JSON or the terminal format.

    Idempotent: a second call replaces the handler the first one installed.

    Args:
        json_lines: JSON lines (services) rather than the terminal format (CLI).
        level: the root level, e.g. ``"INFO"`` or ``logging.WARNING``.
        stream: where lines go; stderr by default, so stdout stays for command output.
    """
    unconfigure_logging()
    root = logging.getLogger()
    handler: logging.Handler = logging.StreamHandler(stream) if stream is not None else _LiveStderr()
    handler.setFormatter(JsonFormatter() if json_lines else TerminalFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    _INSTALLED.append(handler)
    for name in _RECONNECT_LOGGERS:
        logging.getLogger(name).addFilter(_RECONNECT_FILTER)


def unconfigure_logging() -> None:
    """Remove the handler :func:`configure_logging` installed (tests, embedding tools)."""
    root = logging.getLogger()
    for old in _INSTALLED:
        root.removeHandler(old)
    _INSTALLED.clear()
    for name in _RECONNECT_LOGGERS:
        logging.getLogger(name).removeFilter(_RECONNECT_FILTER)
