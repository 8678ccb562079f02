"""The REST user journey through a real Envoy in front of a real orchestrator.

curl-equivalent calls only: create a run that asks a human, follow its event stream (SSE),
answer its questions when it waits, see it complete, list/fetch/render its artifacts;
cancel another run; another tenant sees neither (404, not 403).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.gateway.backend import Backend
from tests.gateway.support import EnvoyProcess, error_body, sse_events

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "orchestrations" / "todo-app.yaml"
ANSWER = "Busy professionals first; students follow in the second release."
MAX_WAITS = 10


def run_json(policy: str = "POLICY_AUTONOMOUS") -> dict[str, Any]:
    """The todo-app example as the JSON body of ``POST /v1/runs`` (proto field names)."""
    spec = yaml.safe_load(EXAMPLE.read_text())
    budget = spec["budget"]
    return {
        "title": spec["title"],
        "idea": spec["idea"],
        "constraints": spec["constraints"],
        "requested_phases": [f"PHASE_{p.upper().replace('-', '_')}" for p in spec["phases"]],
        "budget": {
            "max_usd": budget["max_usd"],
            "max_tokens": str(budget["max_tokens"]),  # int64 travels as a string
            "max_wall_clock_seconds": str(budget["max_wall_clock_minutes"] * 60),
        },
        "policy": policy,
    }


def _answer_waiting_questions(gateway: EnvoyProcess, run_id: str, headers: dict[str, str]) -> int:
    resp = gateway.request(
        "GET", f"/v1/runs/{run_id}/questions?statuses=QUESTION_STATUS_AWAITING_HUMAN", headers=headers
    )
    assert resp.status == 200, resp
    waiting = resp.json()["questions"]
    for q in waiting:
        answered = gateway.request(
            "POST", f"/v1/runs/{run_id}/questions/{q['id']}:answer", body={"answer": ANSWER}, headers=headers
        )
        assert answered.status == 200, answered
        assert answered.json()["question"]["status"] == "QUESTION_STATUS_ANSWERED_BY_HUMAN"
    return len(waiting)


def test_create_watch_answer_complete_and_read_artifacts(
    gateway: EnvoyProcess, orchestrator: Backend
) -> None:
    operator = orchestrator.bearer(roles=("operator",))
    created = gateway.request(
        "POST", "/v1/runs?request_id=journey-1", body=run_json("POLICY_ASK_ON_BLOCKING"), headers=operator
    )
    assert created.status == 200, created
    run = created.json()["run"]
    assert run["tenant"] == "acme" and run["created_by"] == "alice"
    run_id = run["id"]

    events, answered, waits = [], 0, 0
    for message in sse_events(
        gateway.port, f"/v1/runs/{run_id}:watch", orchestrator.bearer(roles=("viewer",))
    ):
        event = message["event"]
        events.append(event)
        if event["type"] == "run.awaiting_input":
            waits += 1
            assert waits <= MAX_WAITS, "the run keeps waiting"
            answered += _answer_waiting_questions(gateway, run_id, operator)
    assert [int(e["seq"]) for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "run.created" and events[-1]["type"] == "run.completed"
    assert waits >= 1 and answered >= 1 and "run.resumed" in {e["type"] for e in events}

    final = gateway.request("GET", f"/v1/runs/{run_id}", headers=operator).json()["run"]
    assert final["status"] == "RUN_STATUS_SUCCEEDED", final
    listed = gateway.request(
        "GET", f"/v1/runs/{run_id}/artifacts?latest_only=true&omit_content=true", headers=operator
    )
    assert listed.status == 200
    artifacts = listed.json()["artifacts"]
    assert {"idea-spec", "prd"} <= {a["type"] for a in artifacts}
    prd = next(a for a in artifacts if a["type"] == "prd")
    fetched = gateway.request("GET", f"/v1/runs/{run_id}/artifacts/{prd['id']}", headers=operator)
    assert fetched.status == 200
    assert fetched.json()["artifact"]["content"] and fetched.json()["artifact"]["model"] == "offline"
    rendered = gateway.request("GET", f"/v1/runs/{run_id}/artifacts/{prd['id']}:render", headers=operator)
    assert rendered.status == 200 and "#" in str(rendered.json())

    # a repeated request_id returns the same run (idempotent create)
    again = gateway.request("POST", "/v1/runs?request_id=journey-1", body=run_json(), headers=operator)
    assert again.json()["run"]["id"] == run_id


def test_cancel_another_run(gateway: EnvoyProcess, orchestrator: Backend) -> None:
    operator = orchestrator.bearer(roles=("operator",))
    body = {**run_json(), "requested_phases": ["PHASE_BETA"]}  # long: all thirteen phases
    run_id = gateway.request("POST", "/v1/runs", body=body, headers=operator).json()["run"]["id"]
    cancelled = gateway.request(
        "POST", f"/v1/runs/{run_id}:cancel", body={"reason": "duplicate idea"}, headers=operator
    )
    assert cancelled.status == 200, cancelled
    types = [m["event"]["type"] for m in sse_events(gateway.port, f"/v1/runs/{run_id}:watch", operator)]
    assert "run.cancelled" in types  # the stream ends once the run is terminal
    final = gateway.request("GET", f"/v1/runs/{run_id}", headers=operator).json()["run"]
    assert final["status"] == "RUN_STATUS_CANCELLED"
    again = gateway.request("POST", f"/v1/runs/{run_id}:cancel", body={}, headers=operator)
    assert again.status == 400, again  # FAILED_PRECONDITION (already terminal) maps to 400
    error_body(again, 9)


def test_another_tenants_run_is_404(gateway: EnvoyProcess, orchestrator: Backend) -> None:
    mine = orchestrator.bearer(roles=("operator",))
    run_id = gateway.request("POST", "/v1/runs", body=run_json(), headers=mine).json()["run"]["id"]
    stranger = orchestrator.bearer(tenant="globex", roles=("admin",), sub="eve")
    for method, path, body in [
        ("GET", f"/v1/runs/{run_id}", None),
        ("GET", f"/v1/runs/{run_id}/artifacts", None),
        ("POST", f"/v1/runs/{run_id}:cancel", {"reason": "mine now"}),
    ]:
        resp = gateway.request(method, path, body=body, headers=stranger)
        assert resp.status == 404, (path, resp)
        error_body(resp, 5)
    listed = gateway.request("GET", "/v1/runs", headers=stranger).json()
    assert run_id not in {r["id"] for r in listed.get("runs", [])}


def test_orchestrator_validation_errors_are_400_with_field_violations(
    gateway: EnvoyProcess, orchestrator: Backend
) -> None:
    resp = gateway.request("POST", "/v1/runs", body={"idea": "short"}, headers=orchestrator.bearer())
    assert resp.status == 400
    body = error_body(resp, 3)
    (bad,) = [d for d in body["details"] if d["@type"].endswith("BadRequest")]
    assert {v["field"] for v in bad["field_violations"]} == {"run.idea"}


def test_text_the_database_cannot_store_is_400_not_500(gateway: EnvoyProcess, orchestrator: Backend) -> None:
    # found by schemathesis: a NUL character reached PostgreSQL and came back as INTERNAL
    body = {**run_json(), "idea": "A todo app for busy people\u0000 with offline sync"}
    resp = gateway.request("POST", "/v1/runs", body=body, headers=orchestrator.bearer())
    assert resp.status == 400, resp
    assert "NUL" in error_body(resp, 3)["message"]
