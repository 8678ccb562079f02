"""The Python client and the client CLI against real servers.

Retries and stream resumption are checked against a small real gRPC server that fails on
purpose; typed errors and the CLI run against a real orchestrator (the CLI as a separate
process, as a user runs it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
import pytest_asyncio

from ideamine._proto.ideamine.v1 import common_pb2, run_pb2, run_pb2_grpc
from ideamine.client import IdeaMineClient, RpcError
from ideamine.enums import QuestionStatus, RunStatus
from ideamine.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Unauthenticated
from ideamine.ids import new_id
from ideamine.runfile import load_run_file
from tests.orchestrator.conftest import Stack
from tests.orchestrator.support import ROOT, run_cli

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.postgres, pytest.mark.redis]

#: the API only: this server never adopts runs
SERVER_OVERRIDES = {"max_active_runs": 0}

TODO = ROOT / "examples" / "orchestrations" / "todo-app.yaml"


class FlakyRuns(run_pb2_grpc.RunServiceServicer):  # type: ignore[misc]
    """GetRun fails UNAVAILABLE ``failures`` times; WatchRun breaks once after two events."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0
        self.watch_requests: list[int] = []

    async def GetRun(self, request: Any, context: Any) -> Any:  # noqa: N802
        self.calls += 1
        if self.calls <= self.failures:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "restarting")
        return run_pb2.GetRunResponse(run=run_pb2.Run(id=request.run_id))

    async def WatchRun(self, request: Any, context: Any) -> AsyncIterator[Any]:  # noqa: N802
        self.watch_requests.append(request.after_seq)
        for seq in range(request.after_seq + 1, 4):
            yield run_pb2.WatchRunResponse(event=run_pb2.RunEvent(run_id=request.run_id, seq=seq, type="t"))
            if len(self.watch_requests) == 1 and seq == 2:
                await context.abort(grpc.StatusCode.UNAVAILABLE, "replica went away")


@pytest_asyncio.fixture(loop_scope="module")
async def flaky() -> AsyncIterator[tuple[str, FlakyRuns]]:
    servicer = FlakyRuns(failures=2)
    server = grpc.aio.server()
    run_pb2_grpc.add_RunServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}", servicer
    finally:
        await server.stop(0)


async def test_client_retries_unavailable_with_capped_backoff(flaky: tuple[str, FlakyRuns]) -> None:
    address, servicer = flaky
    async with IdeaMineClient(address, initial_backoff=0.01, max_backoff=0.05) as client:
        run = await client.get_run("r-1")
    assert run.id == "r-1" and servicer.calls == 3
    servicer.calls, servicer.failures = 0, 10
    async with IdeaMineClient(address, max_attempts=3, initial_backoff=0.01) as client:
        with pytest.raises(RpcError) as caught:
            await client.get_run("r-2")
    assert caught.value.code is grpc.StatusCode.UNAVAILABLE and caught.value.retryable and servicer.calls == 3


async def test_watch_reconnects_after_the_last_event_it_saw(flaky: tuple[str, FlakyRuns]) -> None:
    address, servicer = flaky
    async with IdeaMineClient(address, initial_backoff=0.01) as client:
        seqs = [e.seq async for e in client.watch_run("r-1")]
    assert seqs == [1, 2, 3] and servicer.watch_requests == [0, 2]


async def test_client_raises_the_error_tree(stack: Stack) -> None:
    async with IdeaMineClient(stack.server.address, token=stack.keys.token(roles=["operator"])) as client:
        with pytest.raises(InvalidInput) as invalid:
            await client.create_run(run_pb2.Run(idea="tiny"))
        assert [v.field for v in invalid.value.violations] == ["run.idea"]
        with pytest.raises(NotFound):
            await client.get_run(new_id())
        run = await client.create_run(load_run_file(str(TODO)), request_id="cli-req-1")
        assert run.title == "Pocket Todo" and list(run.requested_phases) == [
            common_pb2.PHASE_INTAKE,
            common_pb2.PHASE_IDEATION,
            common_pb2.PHASE_PRD,
        ]
        assert (await client.create_run(load_run_file(str(TODO)), request_id="cli-req-1")).id == run.id
        with pytest.raises(Conflict):
            await client.pause_run(run.id)  # PENDING cannot pause
        with pytest.raises(PermissionDenied):
            await client.waive_gate(run.id, "intake", "no")
    async with IdeaMineClient(stack.server.address, token=stack.keys.token(roles=["admin"])) as admin:
        with pytest.raises(InvalidInput) as lapsed:  # the expiry reaches the server (checked first)
            await admin.waive_gate(run.id, "intake", "no", expires_at=datetime(2020, 1, 1, tzinfo=UTC))
        assert [v.field for v in lapsed.value.violations] == ["expires_at"]
    async with IdeaMineClient(stack.server.address, token="garbage") as client:
        with pytest.raises(Unauthenticated):
            await client.list_phases()


async def test_cli_against_the_server(stack: Stack, tmp_path: Path) -> None:
    server = ["--server", stack.server.address, "--token", stack.keys.token(roles=["operator"])]
    rc, out, err = await run_cli("submit", str(TODO), *server)
    assert rc == 0, err
    run_id = out.strip()
    assert (await stack.store.get_run(run_id)).title == "Pocket Todo"

    q = await stack.store.add_question(run_id, "intake", text="Offline first?", blocking=True)
    rc, out, err = await run_cli("answer", run_id, q.code, "Yes, offline first", *server)
    assert rc == 0, err
    assert (await stack.store.get_question(q.id)).status is QuestionStatus.ANSWERED_BY_HUMAN
    rc, _, err = await run_cli("answer", run_id, q.code, "again", *server)
    assert rc == 2 and err.count("\n") == 1 and "closed" in err and "Traceback" not in err

    rc, out, err = await run_cli("runs", "cancel", run_id, "--reason", "test", *server)
    assert rc == 0 and "CANCELLED" in out, err
    assert (await stack.store.get_run(run_id)).status is RunStatus.CANCELLED
    rc, out, err = await run_cli("runs", "list", *server)
    assert rc == 0 and run_id in out
    rc, out, _ = await run_cli("watch", run_id, *server)
    assert rc == 6 and "run.cancelled" in out  # the run's status code, as `ideamine run` uses

    rc, _, err = await run_cli("runs", "get", new_id(), *server)
    assert rc == 2 and err.count("\n") == 1 and "not found" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("idea: short\nphases: [nowhere]\n", encoding="utf-8")
    rc, _, err = await run_cli("submit", str(bad), *server)
    assert rc == 2 and "idea" in err and "phases" in err and "Traceback" not in err
    rc, _, err = await run_cli("runs", "list", "--status", "DANCING", *server)
    assert rc == 2 and "--status" in err
    rc, _, err = await run_cli("runs", "list", "--server", "127.0.0.1:1")
    assert rc == 1 and "server error" in err and "Traceback" not in err
