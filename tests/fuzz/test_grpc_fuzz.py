"""Every request message of every hosted gRPC service, fuzzed against a real orchestrator.

The requests come from :func:`tests.fuzz.proto_strategies.messages`, generated from the
message descriptors (so a new RPC or field is fuzzed without editing this file), with
hints that steer strings toward ids of a real finished run, its artifacts, tasks,
questions and checkpoints. Each example is sent over a real socket with an admin token;
the only acceptable outcomes are OK and the client errors a caller can act on. INTERNAL,
UNKNOWN or UNAVAILABLE mean the server failed on input it should have validated, and no
status message may carry a traceback or a source path.
"""

from __future__ import annotations

import grpc
import pytest
import pytest_asyncio
from google.protobuf.descriptor import MethodDescriptor  # type: ignore[import-untyped]
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.proto_strategies import messages
from tests.orchestrator.conftest import Stack, stack  # noqa: F401 - the shared server fixture
from tests.security.rpc import METHODS, call
from tests.security.support import finished_run, object_ids, running_worker

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.postgres, pytest.mark.redis]

#: outcomes a well-behaved server may give to any request
ALLOWED = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}
#: text that must never reach a client
LEAKS = ("Traceback", 'File "', "asyncpg", "psycopg", "sqlite3", "/work/", "site-packages")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hints(stack: Stack) -> dict[str, list[str]]:  # noqa: F811 - pytest injects the fixture
    """Real ids to mix into string fields: a finished run and everything it owns."""
    async with running_worker(stack, "fuzz-seed"):
        run = await finished_run(stack, phases=[])
    ids = await object_ids(stack, run.id)
    return {
        "run_id": [ids.run_id],
        "artifact_id": ids.artifact_ids[:5],
        "task_id": ids.task_ids[:5],
        "question_id": ids.question_ids[:5],
        "checkpoint_id": ids.checkpoint_ids[:5],
        "agent_name": ["intake.expand", "intake"],
        "page_token": ["", "AAAA", "eyJvIjogMX0"],
        "*": [ids.run_id, "intake"],
    }


async def test_every_public_rpc_is_fuzzed() -> None:
    """The list is built from the descriptors; this pins that it found all of them."""
    names = {f"{m.containing_service.name}/{m.name}" for m in METHODS}
    assert len(METHODS) == 32, sorted(names)
    assert {"RunService/WatchRun", "TaskService/SubmitTasks", "HostRegistryService/RegisterHost"} <= names


@pytest.mark.parametrize("method", METHODS, ids=lambda m: f"{m.containing_service.name}.{m.name}")
@given(data=st.data())
async def test_fuzzed_requests_get_only_client_errors(
    stack: Stack,  # noqa: F811
    hints: dict[str, list[str]],
    method: MethodDescriptor,
    data: st.DataObject,
) -> None:
    request = data.draw(messages(method.input_type, hints=hints), label="request")
    err, _ = await call(stack.channel, method, request, stack.md("admin"))
    if err is None:
        return
    code, details = err.code(), err.details() or ""
    assert code in ALLOWED, f"{method.name} answered {code.name}: {details!r}"
    leaked = [s for s in LEAKS if s in details]
    assert not leaked, f"{method.name} leaked {leaked} in {details!r}"


@given(payload=st.binary(min_size=1, max_size=200), method=st.sampled_from(METHODS))
async def test_unparseable_bytes_are_rejected_without_internal_errors(
    stack: Stack,  # noqa: F811
    payload: bytes,
    method: MethodDescriptor,
) -> None:
    """Bytes that are no valid protobuf at all (truncated varints, bad wire types)."""
    err, _ = await call(stack.channel, method, payload, stack.md("admin"), serialize=bytes)
    if err is not None:
        details = err.details() or ""
        assert err.code() in ALLOWED, f"{method.name}: {err.code().name} {details!r}"
        assert not [s for s in LEAKS if s in details]
