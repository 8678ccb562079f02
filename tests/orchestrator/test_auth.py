"""The auth negative suite over every RPC of the server, plus roles and tenancy.

Every method of every hosted service is called with each kind of bad credential and must
answer UNAUTHENTICATED; a viewer calling a mutating method gets PERMISSION_DENIED; another
tenant's run is NOT_FOUND. Health and reflection stay open.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from google.protobuf import message_factory  # type: ignore[import-untyped]
from google.protobuf.descriptor import MethodDescriptor  # type: ignore[import-untyped]
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from ideamine._proto.ideamine.v1 import common_pb2, run_pb2, task_pb2
from ideamine.ids import new_id
from orchestrator.auth import Role, required_role
from tests.orchestrator.conftest import Stack
from tests.orchestrator.support import HS_SECRET, bearer

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.postgres, pytest.mark.redis]


def _methods(stack: Stack) -> list[tuple[str, MethodDescriptor]]:
    from ideamine._proto.ideamine.v1 import (
        agent_host_pb2,
        artifact_pb2,
        budget_pb2,
        catalog_pb2,
        checkpoint_pb2,
        clarification_pb2,
        gate_pb2,
        phase_pb2,
    )

    modules = (run_pb2, phase_pb2, artifact_pb2, clarification_pb2, gate_pb2, budget_pb2, checkpoint_pb2) + (
        catalog_pb2,
        task_pb2,
        agent_host_pb2,
    )
    hosted = set(stack.server.grpc.service_names)
    out = []
    for module in modules:
        for service in module.DESCRIPTOR.services_by_name.values():
            if service.full_name in hosted:
                out += [(f"/{service.full_name}/{m.name}", m) for m in service.methods]
    return out


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _hs256_with(secret: bytes, claims: dict[str, Any]) -> str:
    head = _b64({"alg": "HS256", "typ": "JWT", "kid": "test-key-1"}) + "." + _b64(claims)
    sig = hmac.new(secret, head.encode(), hashlib.sha256).digest()
    return head + "." + base64.urlsafe_b64encode(sig).decode().rstrip("=")


def _claims(stack: Stack) -> dict[str, Any]:
    token = stack.keys.token()
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def bad_credentials(stack: Stack) -> dict[str, tuple[tuple[str, str], ...]]:
    """Metadata for every way a token can be wrong."""
    keys = stack.keys
    good = keys.token()
    head, payload, sig = good.split(".")
    tampered_claims = {**_claims(stack), "tenant": "someone-else"}
    return {
        "missing": (),
        "not bearer": (("authorization", f"Basic {good}"),),
        "not a jwt": bearer("not.a.jwt"),
        "expired": bearer(keys.token(exp_in=-120)),
        "wrong issuer": bearer(keys.token(issuer="evil")),
        "wrong audience": bearer(keys.token(audience="other-api")),
        "tampered": bearer(f"{head}.{_b64(tampered_claims)}.{sig}"),
        "alg none": bearer(_b64({"alg": "none", "typ": "JWT"}) + "." + payload + "."),
        "hs256 with the rsa public key": bearer(_hs256_with(keys.public_pem, _claims(stack))),
        "hs256 with a wrong secret": bearer(_hs256_with(b"not-the-secret-at-all-not-at-all", _claims(stack))),
        "wrong algorithm (rs512)": bearer(keys.token(algorithm="RS512")),
        "unknown key": bearer(keys.token(key=keys.stranger, kid="unknown-kid")),
        "wrong key, known kid": bearer(keys.token(key=keys.stranger)),
        "no tenant": bearer(keys.token(tenant=None)),
        "no subject": bearer(keys.token(sub=None)),
    }


def _request(method: MethodDescriptor, run_id: str = "", task_id: str = "") -> Any:
    """A request of ``method`` with every field a servicer checks before the tenant filled in."""
    request = message_factory.GetMessageClass(method.input_type)()
    values: dict[str, Any] = {
        "run_id": run_id or new_id(),
        "phase": common_pb2.PHASE_INTAKE,
        "reason": "because",
        "answer": "yes",
        "question_id": new_id(),
        "artifact_id": new_id(),
        "checkpoint_id": new_id(),
        "task_id": task_id or new_id(),
        "agent_name": "intake.expand",
        "host_id": new_id(),
    }
    for name, value in values.items():
        if name in method.input_type.fields_by_name:
            setattr(request, name, value)
    if "budget" in method.input_type.fields_by_name:
        request.budget.max_tokens = 10**9
    if "run" in method.input_type.fields_by_name:
        request.run.idea = "An idea long enough to pass validation"
    if method.input_type.name == "SubmitTasksRequest":
        request.tasks.append(task_pb2.TaskSubmission(run_id=run_id or new_id(), agent="intake.expand"))
    return request


def _caller(stack: Stack, path: str, method: MethodDescriptor) -> Callable[..., Any]:
    out = message_factory.GetMessageClass(method.output_type)
    kw = {"request_serializer": lambda m: m.SerializeToString(), "response_deserializer": out.FromString}
    if method.server_streaming:
        stream = stack.channel.unary_stream(path, **kw)

        async def call_stream(request: Any, metadata: Any) -> Any:
            return [m async for m in stream(request, metadata=metadata, timeout=10)]

        return call_stream
    unary = stack.channel.unary_unary(path, **kw)

    async def call(request: Any, metadata: Any) -> Any:
        return await unary(request, metadata=metadata, timeout=10)

    return call


async def _code(call: Callable[..., Any], request: Any, metadata: Any) -> grpc.StatusCode:
    try:
        await call(request, metadata)
    except grpc.aio.AioRpcError as err:
        return err.code()
    return grpc.StatusCode.OK


async def test_every_rpc_refuses_every_bad_credential(stack: Stack) -> None:
    methods = _methods(stack)
    assert len(methods) == 32  # the 29 public RPCs plus HostRegistryService (3)
    failures = []
    for label, metadata in bad_credentials(stack).items():
        for path, method in methods:
            code = await _code(_caller(stack, path, method), _request(method), metadata)
            if code is not grpc.StatusCode.UNAUTHENTICATED:
                failures.append(f"{label}: {path} -> {code.name}")
    assert not failures, failures


async def test_viewers_cannot_mutate_and_only_admins_waive(stack: Stack) -> None:
    failures = []
    for path, method in _methods(stack):
        need = required_role(path)
        assert need is not None
        call = _caller(stack, path, method)
        for role in Role:
            code = await _code(call, _request(method), stack.md(role.name.lower()))
            denied = code is grpc.StatusCode.PERMISSION_DENIED
            if denied != (role < need):
                failures.append(f"{role.name} on {path} -> {code.name}")
    assert not failures, failures
    none = await _code(
        _caller(stack, "/ideamine.v1.RunService/ListRuns", _methods(stack)[2][1]),
        run_pb2.ListRunsRequest(),
        bearer(stack.keys.token(roles=[])),
    )
    assert none is grpc.StatusCode.PERMISSION_DENIED


async def test_another_tenants_run_is_not_found_on_every_run_rpc(stack: Stack) -> None:
    created = await stack.runs.CreateRun(
        run_pb2.CreateRunRequest(run=run_pb2.Run(idea="An idea that belongs to acme only")),
        metadata=stack.md("operator"),
    )
    run_id = created.run.id
    await stack.runs.CancelRun(run_pb2.CancelRunRequest(run_id=run_id), metadata=stack.md("operator"))
    tasks = await stack.store.list_tasks(run_id)
    task_id = tasks[0].id if tasks else new_id()
    intruder = stack.md("admin", tenant="globex", sub="mallory")
    checked, failures = 0, []
    for path, method in _methods(stack):
        fields = method.input_type.fields_by_name
        if "run_id" not in fields and method.name not in ("GetTask", "SubmitTasks"):
            continue
        checked += 1
        code = await _code(_caller(stack, path, method), _request(method, run_id, task_id), intruder)
        if code is not grpc.StatusCode.NOT_FOUND:
            failures.append(f"{path} -> {code.name}")
    assert checked >= 22 and not failures, failures


async def test_valid_tokens_pass_hs256_included_and_clock_skew_is_tolerated(stack: Stack) -> None:
    claims = {**_claims(stack), "roles": ["viewer"]}
    for metadata in (
        bearer(stack.keys.token(exp_in=-10)),  # expired 10 s ago: inside the 30 s leeway
        bearer(_hs256_with(HS_SECRET.encode(), claims)),
        bearer(stack.keys.token(roles="viewer operator")),  # space-separated roles
    ):
        response = await stack.runs.ListRuns(run_pb2.ListRunsRequest(), metadata=metadata)
        assert all(r.tenant == "acme" for r in response.runs)


async def test_health_and_reflection_stay_open(stack: Stack) -> None:
    health = health_pb2_grpc.HealthStub(stack.channel)
    for service in ("", "ideamine.v1.RunService"):
        reply = await health.Check(health_pb2.HealthCheckRequest(service=service))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    reflection = reflection_pb2_grpc.ServerReflectionStub(stack.channel)
    responses = reflection.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    )
    names = {s.name async for r in responses for s in r.list_services_response.service}
    assert {"ideamine.v1.RunService", "ideamine.v1.HostRegistryService", "grpc.health.v1.Health"} <= names


async def test_refusals_carry_error_info_and_no_internals(stack: Stack) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.runs.GetRun(
            run_pb2.GetRunRequest(run_id=new_id()), metadata=bearer(stack.keys.token(exp_in=-120))
        )
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert "expired" in (caught.value.details() or "")
    assert "Traceback" not in (caught.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.runs.CreateRun(run_pb2.CreateRunRequest(), metadata=stack.md("viewer"))
    assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "operator" in (caught.value.details() or "")
