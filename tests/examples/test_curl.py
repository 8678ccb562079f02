"""``examples/clients/curl.sh``: REST through a real Envoy in front of the real orchestrator."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ideamine.enums import RunStatus
from tests.examples.support import (
    EXAMPLES,
    THIN_IDEA,
    Result,
    assert_clear_error,
    assert_succeeded,
    run_example,
    stored_run,
)
from tests.gateway.backend import Backend
from tests.gateway.support import EnvoyProcess

SCRIPT = str(EXAMPLES / "clients" / "curl.sh")

pytestmark = [
    pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed"),
    pytest.mark.postgres,
    pytest.mark.redis,
]


def curl_script(gateway: EnvoyProcess, token: str | None, *args: str) -> Result:
    """Run the script against ``gateway`` with ``token`` (None: unset)."""
    env = {"IDEAMINE_GATEWAY": f"http://127.0.0.1:{gateway.port}", "IDEAMINE_TOKEN": token}
    return run_example(["bash", SCRIPT, *args], env)


def event_types(out: str) -> list[str]:
    """The types of the streamed events the script printed (one JSON per line under ``events:``)."""
    block = out.split("events:\n", 1)[1].split("status:", 1)[0]
    return [json.loads(line)["event"]["type"] for line in block.splitlines()]


@pytest.mark.slow
def test_creates_a_run_streams_it_to_completion_and_lists_its_artifacts(
    gateway: EnvoyProcess, backend: Backend
) -> None:
    result = curl_script(gateway, backend.token(roles=("operator",)))
    assert result.code == 0, result
    run_id = result.out.splitlines()[0].removeprefix("created run ")
    assert_succeeded(backend, run_id)
    types = event_types(result.out)
    assert types[0] == "run.created" and types[-1] == "run.completed", result
    assert "status: SUCCEEDED\n" in result.out, result
    listed = result.out.split("artifacts:\n", 1)[1].split()
    stored = backend.loop.run(backend.store.list_artifacts(run_id, latest_only=False))
    assert sorted(listed) == sorted(a.type for a in stored), result


def test_a_run_file_is_sent_and_a_run_that_stops_for_a_person_ends_the_watch(
    gateway: EnvoyProcess, backend: Backend, tmp_path: Path
) -> None:
    body = tmp_path / "run.json"
    body.write_text(
        json.dumps({"title": "Game night", "idea": THIN_IDEA, "requested_phases": ["PHASE_INTAKE"]})
    )
    result = curl_script(gateway, backend.token(roles=("operator",)), str(body))
    assert result.code == 1, result
    run = stored_run(backend, result.out.splitlines()[0].removeprefix("created run "))
    assert run.title == "Game night" and run.status is RunStatus.NEEDS_WAIVER, run
    assert event_types(result.out)[-1] == "run.needs_waiver", result
    assert "status: NEEDS_WAIVER\n" in result.out, result


def test_a_refused_request_prints_the_gateways_json_error(gateway: EnvoyProcess, backend: Backend) -> None:
    result = curl_script(gateway, backend.token(roles=("viewer",)))
    assert result.code == 22, result  # curl --fail-with-body
    error = json.loads(result.err.splitlines()[-1])  # google.rpc.Status as JSON
    assert error["code"] == 7 and error["message"], result  # PERMISSION_DENIED


def test_without_a_token_it_says_what_to_set(gateway: EnvoyProcess) -> None:
    assert_clear_error(curl_script(gateway, None), 1, "IDEAMINE_TOKEN")
