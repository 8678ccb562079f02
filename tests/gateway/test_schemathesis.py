"""schemathesis against Envoy in front of the real orchestrator, driven by ``docs/openapi.yaml``.

Every documented operation gets generated requests (valid and invalid) with an admin token;
no answer may be a 5xx, and every answer must match the document (status codes, JSON
schemas of bodies). A bounded number of examples per operation keeps the module well
under a minute. No agent-host worker runs: created runs stay queued, which is all an API
contract test needs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.gateway.backend import Backend
from tests.gateway.support import EnvoyProcess

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

DOC = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
#: examples per operation (about 30 operations): enough to find a 5xx, small enough for CI
EXAMPLES = 8
#: created runs stay queued: an API contract test needs no agent work
WITH_WORKER = False
schema = schemathesis.openapi.from_path(DOC)


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    """One keep-alive HTTP session for every generated request."""
    with requests.Session() as s:
        yield s


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_5xx_and_answers_match_the_document(
    case: schemathesis.Case[Any], gateway: EnvoyProcess, orchestrator: Backend, session: requests.Session
) -> None:
    token = orchestrator.token(roles=("admin",))
    case.call_and_validate(
        base_url=f"http://127.0.0.1:{gateway.port}",
        session=session,
        headers={"authorization": f"Bearer {token}"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
        timeout=10,
    )
