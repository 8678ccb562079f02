"""The three example orchestrations: each embedded (``ideamine run``) and each submitted by its
``submit_*.py`` script (:mod:`ideamine.client`) to the package's one real orchestrator."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml

from ideamine.cli.run_cmd import EXIT_CODES
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

ORCHESTRATIONS = EXAMPLES / "orchestrations"
#: run file → the script that submits it
SCRIPTS = {
    "todo-app": "submit_todo_app.py",
    "iot-dashboard": "submit_iot_dashboard.py",
    "healthcare-platform": "submit_healthcare_platform.py",
}
GATE_LINE = re.compile(
    r"^  (?P<phase>[a-z-]+) +attempt (?P<attempt>\d+)  (?P<decision>PASS|WARN|FAIL) +[\d.]+ / min"
)


def test_every_run_file_has_a_submit_script() -> None:
    assert sorted(p.stem for p in ORCHESTRATIONS.glob("*.yaml")) == sorted(SCRIPTS)
    assert all((ORCHESTRATIONS / script).is_file() for script in SCRIPTS.values())


@pytest.mark.slow
@pytest.mark.parametrize("example", SCRIPTS)
def test_ideamine_run_completes_the_example_embedded(example: str, tmp_path: Path) -> None:
    result = run_example(
        [sys.executable, "-m", "ideamine.cli.main", "run", str(ORCHESTRATIONS / f"{example}.yaml")]
        + ["--out", str(tmp_path / "out"), "--quiet"]
    )
    assert result.code == 0, result
    assert ": SUCCEEDED" in result.out, result
    assert (tmp_path / "out" / "report.md").is_file()


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.parametrize("example", SCRIPTS)
def test_submit_script_runs_the_example_on_the_orchestrator(example: str, backend: Backend) -> None:
    script = str(ORCHESTRATIONS / SCRIPTS[example])
    result = run_example([sys.executable, script], client_env(backend, roles=("operator",)))
    assert result.code == 0, result
    run_id = created_run_id(result.out)
    run = assert_succeeded(backend, run_id)
    assert "status: SUCCEEDED" in result.out, result

    gates = [m.groupdict() for line in result.out.splitlines() if (m := GATE_LINE.match(line))]
    assert {g["phase"] for g in gates if g["decision"] != "FAIL"} == set(run.phases), result
    artifacts = backend.loop.run(backend.store.list_artifacts(run_id, latest_only=False))
    assert f"artifacts: {len(artifacts)}\n" in result.out, result
    assert len(artifacts) >= len(run.phases)


def test_a_malformed_run_file_names_every_bad_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("idea: short\nphases: [intake, astrology]\nbudget: {max_usd: -1}\n")
    result = run_example(
        [sys.executable, str(ORCHESTRATIONS / "submit.py"), str(bad)],
        {"IDEAMINE_ORCHESTRATOR_ADDR": "127.0.0.1:1"},  # never reached
    )
    assert_clear_error(result, 2, "idea: must be", "astrology", "budget.max_usd")


@pytest.mark.postgres
@pytest.mark.redis
def test_a_viewer_may_not_submit_and_is_told_so(backend: Backend) -> None:
    result = run_example(
        [sys.executable, str(ORCHESTRATIONS / "submit_todo_app.py")], client_env(backend, roles=("viewer",))
    )
    assert_clear_error(result, 2, "operator")


def test_an_unreachable_server_is_a_server_error_not_bad_input() -> None:
    result = run_example(
        [sys.executable, str(ORCHESTRATIONS / "submit_todo_app.py"), "--server", "127.0.0.1:1"],
        {"IDEAMINE_TOKEN": None},
    )
    assert_clear_error(result, 1, "UNAVAILABLE", "127.0.0.1:1")


@pytest.mark.postgres
@pytest.mark.redis
def test_a_run_that_stops_for_a_person_ends_the_watch_with_its_exit_code(
    backend: Backend, tmp_path: Path
) -> None:
    thin = tmp_path / "thin.yaml"
    thin.write_text(yaml.safe_dump({"idea": THIN_IDEA, "phases": ["intake"]}))
    result = run_example([sys.executable, str(ORCHESTRATIONS / "submit.py"), str(thin)], client_env(backend))
    assert result.code == EXIT_CODES[RunStatus.NEEDS_WAIVER], result
    assert "run.needs_waiver" in result.out and "status: NEEDS_WAIVER" in result.out, result
    assert "FAIL" in result.out, result  # the failed gate is shown
    assert stored_run(backend, created_run_id(result.out)).status is RunStatus.NEEDS_WAIVER
