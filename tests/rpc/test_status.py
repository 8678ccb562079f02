"""Error mapping: what a client sees when a handler raises."""

from __future__ import annotations

import logging

import grpc
import pytest
from google.rpc import code_pb2, error_details_pb2

from ideamine import errors
from ideamine._proto.ideamine.v1 import catalog_pb2, catalog_pb2_grpc, common_pb2, run_pb2, run_pb2_grpc
from ideamine.rpc import GrpcServer, status_for
from tests.rpc.support import (
    SECRET,
    RunServicer,
    catalog_service,
    channel_for,
    detail,
    rich_status,
    run_service,
)


@pytest.fixture
async def channel():
    server = GrpcServer(services=[catalog_service(), run_service(RunServicer())])
    async with server, channel_for(server.address) as ch:
        yield ch


async def test_invalid_input_carries_field_violations(channel) -> None:
    stub = catalog_pb2_grpc.CatalogServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetPhase(catalog_pb2.GetPhaseRequest())
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details() == "phase is required"
    status = rich_status(err.value)
    bad = detail(status, error_details_pb2.BadRequest)
    assert [(v.field, v.description) for v in bad.field_violations] == [
        ("phase", "must name a phase, e.g. PHASE_INTAKE")
    ]
    info = detail(status, error_details_pb2.ErrorInfo)
    assert (info.reason, info.domain, info.metadata["retryable"]) == ("INVALID_ARGUMENT", "ideamine", "false")


async def test_valid_request_still_succeeds_through_the_interceptor(channel) -> None:
    reply = await catalog_pb2_grpc.CatalogServiceStub(channel).GetPhase(
        catalog_pb2.GetPhaseRequest(phase=common_pb2.PHASE_STORY_LOOP)
    )
    assert reply.phase.name == "story-loop"


async def test_not_found_exposes_only_public_details(channel) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await catalog_pb2_grpc.CatalogServiceStub(channel).GetAgent(
            catalog_pb2.GetAgentRequest(agent_name="x")
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    info = detail(rich_status(err.value), error_details_pb2.ErrorInfo)
    assert dict(info.metadata) == {"agent": "x", "retryable": "false"}  # no tenant


async def test_unexpected_errors_are_internal_and_leak_nothing(channel, caplog) -> None:
    caplog.set_level(logging.ERROR, logger="ideamine.rpc.status")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await catalog_pb2_grpc.CatalogServiceStub(channel).ListAgents(
            catalog_pb2.ListAgentsRequest(), metadata=[("x-request-id", "req-123")]
        )
    assert err.value.code() == grpc.StatusCode.INTERNAL
    assert err.value.details() == "internal error (correlation id req-123)"
    wire = repr(err.value) + str(err.value.trailing_metadata())
    assert "hunter2" not in wire and "Traceback" not in wire and "RuntimeError" not in wire
    info = detail(rich_status(err.value), error_details_pb2.ErrorInfo)
    assert (info.reason, dict(info.metadata)) == ("INTERNAL", {"correlation_id": "req-123"})
    logged = [r for r in caplog.records if "req-123" in r.getMessage()]
    assert logged and logged[0].exc_info is not None and SECRET in str(logged[0].exc_info[1])


async def test_server_streaming_errors_arrive_after_the_items(channel) -> None:
    stub = run_pb2_grpc.RunServiceStub(channel)
    seen = []
    with pytest.raises(grpc.aio.AioRpcError) as err:
        async for reply in stub.WatchRun(run_pb2.WatchRunRequest(run_id="r1")):
            seen.append(reply.event.seq)
    assert seen == [1, 2]
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    info = detail(rich_status(err.value), error_details_pb2.ErrorInfo)
    assert info.metadata["run_id"] == "r1"

    with pytest.raises(grpc.aio.AioRpcError) as err:
        async for _ in stub.WatchRun(run_pb2.WatchRunRequest(run_id="r1", after_seq=99)):
            pass
    assert err.value.code() == grpc.StatusCode.INTERNAL
    assert "hunter2" not in err.value.details()


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (errors.InvalidInput("bad", field="idea"), code_pb2.INVALID_ARGUMENT),
        (errors.CatalogError("bad", field="phases"), code_pb2.INVALID_ARGUMENT),
        (errors.NotFound("no run"), code_pb2.NOT_FOUND),
        (errors.Conflict("wrong status"), code_pb2.FAILED_PRECONDITION),
        (errors.StaleAttempt("old attempt"), code_pb2.FAILED_PRECONDITION),
        (errors.PermissionDenied("viewer"), code_pb2.PERMISSION_DENIED),
        (errors.Unauthenticated("no token"), code_pb2.UNAUTHENTICATED),
        (errors.BudgetExceeded("over"), code_pb2.RESOURCE_EXHAUSTED),
        (errors.StoreUnavailable("db down"), code_pb2.UNAVAILABLE),
        (errors.QueueUnavailable("redis down"), code_pb2.UNAVAILABLE),
        (errors.QueueFull("stream full"), code_pb2.UNAVAILABLE),
        (errors.LLMRetryable("529", retry_after=1.5), code_pb2.UNAVAILABLE),
        (errors.AgentError("agent failed"), code_pb2.INTERNAL),
        (errors.PluginError("bad hook", plugin="p"), code_pb2.INTERNAL),
        (KeyError("x"), code_pb2.INTERNAL),
    ],
)
def test_mapping_table(exc: BaseException, code: int) -> None:
    status = status_for(exc, correlation_id="c1")
    assert status.code == code
    if code == code_pb2.INTERNAL:
        assert status.message == "internal error (correlation id c1)"
    else:
        assert status.message == str(exc)


def test_retry_after_becomes_retry_info() -> None:
    status = status_for(errors.LLMRetryable("overloaded", retry_after=1.5), correlation_id="c1")
    retry = detail(status, error_details_pb2.RetryInfo)
    assert retry.retry_delay.ToNanoseconds() == 1_500_000_000


class _RefuseAll(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """An interceptor that refuses every call, as an authentication interceptor would."""

    async def intercept_service(self, continuation, handler_call_details):
        raise errors.Unauthenticated("missing bearer token")


async def test_errors_raised_by_later_interceptors_are_mapped_too() -> None:
    server = GrpcServer(services=[catalog_service()], interceptors=[_RefuseAll()])
    async with server, channel_for(server.address) as ch:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await catalog_pb2_grpc.CatalogServiceStub(ch).ListPhases(catalog_pb2.ListPhasesRequest())
    assert (err.value.code(), err.value.details()) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "missing bearer token",
    )
    assert detail(rich_status(err.value), error_details_pb2.ErrorInfo).reason == "UNAUTHENTICATED"
