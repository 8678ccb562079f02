"""The Node.js client (``examples/clients/node/client.mjs``, @grpc/grpc-js) against a real orchestrator."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ideamine.enums import RunStatus
from tests.examples.support import (
    EXAMPLES,
    THIN_IDEA,
    assert_clear_error,
    assert_succeeded,
    client_env,
    created_run_id,
    run_example,
    stored_run,
)
from tests.gateway.backend import Backend
from tests.orchestrator.support import ROOT

NODE = shutil.which("node")
CLIENT = str(EXAMPLES / "clients" / "node" / "client.mjs")
TODO = str(EXAMPLES / "orchestrations" / "todo-app.yaml")

pytestmark = [
    pytest.mark.skipif(NODE is None, reason="node is not installed (apt-get install nodejs)"),
    pytest.mark.skipif(
        not (ROOT / "node_modules" / "@grpc" / "grpc-js").is_dir(),
        reason="the Node client's packages are not installed (run `npm ci` in the repository root)",
    ),
]


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
def test_creates_a_run_and_watches_it_to_completion(backend: Backend) -> None:
    assert NODE is not None
    result = run_example([NODE, CLIENT, TODO], client_env(backend, roles=("operator",)))
    assert result.code == 0, result
    run_id = created_run_id(result.out)
    run = assert_succeeded(backend, run_id)
    lines = result.out.splitlines()
    assert lines[-1].startswith(f"run {run_id}: SUCCEEDED"), result
    # every event of the run came through the stream, in order, ending with the run's end
    seqs = [int(line.split()[0]) for line in lines[1:-1]]
    assert seqs == list(range(1, len(seqs) + 1)), result
    assert lines[-2].split()[1] == "run.completed", result
    for phase in run.phases:
        assert any(line.split()[1:] == ["phase.completed", phase] for line in lines[1:-1]), phase


@pytest.mark.postgres
@pytest.mark.redis
def test_without_a_token_the_server_refuses_it_in_one_line(backend: Backend) -> None:
    assert NODE is not None
    result = run_example([NODE, CLIENT, TODO], {**client_env(backend), "IDEAMINE_TOKEN": None})
    assert_clear_error(result, 2, "UNAUTHENTICATED")


def test_a_malformed_run_file_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    assert NODE is not None
    bad = tmp_path / "bad.yaml"
    bad.write_text("idea: A todo list for people who forget things\nphases: [intake, astrology]\n")
    result = run_example([NODE, CLIENT, str(bad)], {"IDEAMINE_ORCHESTRATOR_ADDR": "127.0.0.1:1"})
    assert_clear_error(result, 2, "unknown phases PHASE_ASTROLOGY")


@pytest.mark.postgres
@pytest.mark.redis
def test_a_run_that_stops_for_a_person_ends_the_watch(backend: Backend, tmp_path: Path) -> None:
    assert NODE is not None
    thin = tmp_path / "thin.json"  # the yaml package reads JSON too
    thin.write_text(json.dumps({"idea": THIN_IDEA, "phases": ["intake"]}))
    result = run_example([NODE, CLIENT, str(thin)], client_env(backend))
    assert result.code == 1, result
    assert result.out.splitlines()[-1].split()[2] == "NEEDS_WAIVER", result
    assert stored_run(backend, created_run_id(result.out)).status is RunStatus.NEEDS_WAIVER
