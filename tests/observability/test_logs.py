"""Logs carry run/phase/task/trace ids from context; the CLI and services set themselves up."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import format_span_id, format_trace_id

from ideamine import tracing
from ideamine.errors import InvalidInput
from ideamine.logs import bind, bound_ids, configure_logging, unconfigure_logging
from ideamine.observability import setup_service
from ideamine.queue.message import TaskMessage
from tests.observability.scrape import scrape

ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger("agent_host.worker")


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    out = io.StringIO()
    yield out
    unconfigure_logging()


@pytest.fixture
def provider() -> Iterator[TracerProvider]:
    p = TracerProvider()
    tracing.use_tracer_provider(p)
    yield p
    tracing.use_tracer_provider(None)
    p.shutdown()


def _message() -> TaskMessage:
    return TaskMessage(
        task_id="7a1c2e3f-task",
        run_id="0b9d8c7e-run",
        phase="prd",
        agent="prd-writer",
        attempt=2,
        idempotency_key="k",
    )


def test_a_database_reconnect_failure_is_one_line_with_its_reason(captured: io.StringIO) -> None:
    configure_logging(json_lines=True, stream=captured)
    try:
        raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")
    except ConnectionRefusedError:
        logging.getLogger("asyncpg.pool").warning(
            "Failed to restore the pool connection floor; retrying", exc_info=True
        )
    [line] = captured.getvalue().splitlines()
    doc = json.loads(line)
    assert doc["level"] == "WARNING" and "Traceback" not in line
    assert doc["message"] == (
        "Failed to restore the pool connection floor; retrying "
        "(ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', 5432))"
    )
    try:  # other loggers keep their tracebacks
        raise ValueError("boom")
    except ValueError:
        log.exception("crashed")
    assert "Traceback" in captured.getvalue()


def test_json_lines_carry_context_and_trace_ids(captured: io.StringIO, provider: TracerProvider) -> None:
    configure_logging(json_lines=True, stream=captured)
    with tracing.task_span(_message()) as span:
        log.warning("schema repair %d", 2, extra={"artifact_type": "prd"})
        try:
            raise ValueError("bad output")
        except ValueError:
            log.exception("gave up")
    log.warning("outside")
    first, second, third = (json.loads(line) for line in captured.getvalue().splitlines())
    ctx = span.get_span_context()
    assert first == {
        "ts": first["ts"],
        "level": "WARNING",
        "logger": "agent_host.worker",
        "message": "schema repair 2",
        "run_id": "0b9d8c7e-run",
        "phase": "prd",
        "task_id": "7a1c2e3f-task",
        "trace_id": format_trace_id(ctx.trace_id),
        "span_id": format_span_id(ctx.span_id),
        "artifact_type": "prd",
    }
    assert "ValueError: bad output" in second["exc"] and second["task_id"] == "7a1c2e3f-task"
    assert not {"run_id", "task_id", "trace_id"} & set(third)


def test_terminal_lines_are_short_and_readable(captured: io.StringIO) -> None:
    configure_logging(json_lines=False, stream=captured)
    with bind(run_id="0b9d8c7e-1111-2222", phase="prd"), bind(task_id="7a1c2e3f-3333"):
        log.warning("retrying after %s", "LLM_UNAVAILABLE")
    line = captured.getvalue().rstrip("\n")
    assert re.fullmatch(
        r"\d\d:\d\d:\d\d WARNING worker: retrying after LLM_UNAVAILABLE \[run=0b9d8c7e phase=prd task=7a1c2e3f\]",
        line,
    ), line


def test_bind_nests_resets_and_refuses_unknown_fields() -> None:
    with bind(run_id="r"):
        with bind(phase="qa", task_id=None):
            assert bound_ids() == {"run_id": "r", "phase": "qa"}
        assert bound_ids() == {"run_id": "r"}
    assert bound_ids() == {}
    with pytest.raises(ValueError, match="tenant"), bind(tenant="acme"):
        pass


def test_configuring_twice_replaces_the_handler(captured: io.StringIO) -> None:
    before = len(logging.getLogger().handlers)
    configure_logging(json_lines=True, stream=captured)
    configure_logging(json_lines=False, stream=captured)
    assert len(logging.getLogger().handlers) == before + 1
    unconfigure_logging()
    assert len(logging.getLogger().handlers) == before


@pytest.fixture
def clean_otel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)


def test_service_setup_serves_metrics_on_the_listen_interface(clean_otel_env: None) -> None:
    obs = setup_service("ideamine-test", metrics_port=0, listen="127.0.0.1:50051", log_level="WARNING")
    try:
        assert obs.metrics is not None
        assert "ideamine_grpc_server_handled_total" in scrape(obs.metrics.port).names()
        with pytest.raises(InvalidInput) as err:
            setup_service("ideamine-test", metrics_port=obs.metrics.port, listen="127.0.0.1:1")
        assert [v.field for v in err.value.violations] == ["metrics_port"]
        with pytest.raises(InvalidInput, match="0-65535"):
            setup_service("ideamine-test", metrics_port=70000, listen="127.0.0.1:1")
    finally:
        obs.close()
        obs.close()
        unconfigure_logging()


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    return subprocess.run(
        [sys.executable, "-m", "ideamine.cli.main", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_ideamine_run_exports_spans_only_when_asked(tmp_path: Path) -> None:
    idea = str(ROOT / "examples" / "orchestrations" / "todo-app.yaml")
    done = _cli(
        "run",
        idea,
        "--phases",
        "intake",
        "--out",
        str(tmp_path / "a"),
        "--quiet",
        env={"OTEL_TRACES_EXPORTER": "console"},
    )
    assert done.returncode == 0, done.stderr
    spans = [
        json.loads(chunk) for chunk in re.findall(r"^\{\n.*?^\}$", done.stdout, re.MULTILINE | re.DOTALL)
    ]
    names = {s["name"] for s in spans}
    assert {"run", "phase intake", "phase intake dispatch"} <= names and any(
        n.startswith("task ") for n in names
    )
    assert len({s["context"]["trace_id"] for s in spans}) == 1
    assert all(s["resource"]["attributes"]["service.name"] == "ideamine-embedded" for s in spans)
    bad = _cli("run", idea, "--out", str(tmp_path / "b"), env={"OTEL_TRACES_EXPORTER": "zipkin"})
    assert bad.returncode == 2 and "OTEL_TRACES_EXPORTER" in bad.stderr and "Traceback" not in bad.stderr
