"""REST through a real Envoy in front of a real gRPC server: transcoding, auth, errors, streams.

Every request is a curl-equivalent HTTP call on a real socket; every error body must be
``google.rpc.Status`` JSON (``{"code", "message"[, "details"]}``), whichever component
produced it.
"""

from __future__ import annotations

import base64
import json
import struct
import time
from typing import Any

import jwt
import pytest

from ideamine._proto.ideamine.v1 import catalog_pb2
from tests.gateway.support import (
    HS256_SECRET,
    EnvoyProcess,
    Keys,
    error_body,
    sse_events,
    tampered,
)
from tests.gateway.upstream import WATCH_EVENTS, RecordingRunServicer
from tests.rpc.support import SECRET

# gRPC status codes the JSON error bodies carry
INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED, RESOURCE_EXHAUSTED, INTERNAL, UNAUTHENTICATED = 3, 5, 7, 8, 13, 16  # fmt: skip


def test_healthz_is_public(envoy: EnvoyProcess) -> None:
    assert envoy.request("GET", "/healthz").status == 200


def test_list_phases_is_transcoded_with_proto_field_names(envoy: EnvoyProcess, keys: Keys) -> None:
    resp = envoy.request("GET", "/v1/phases", headers=keys.bearer(roles=["viewer"]))
    assert resp.status == 200, resp
    phases = resp.json()["phases"]
    assert [p["name"] for p in phases][:3] == ["intake", "ideation", "critique"]
    assert len(phases) == 13
    assert phases[0]["phase"] == "PHASE_INTAKE"  # enums by name
    assert "artifact_types" in phases[0] and "artifactTypes" not in phases[0]  # proto names preserved
    assert resp.headers["x-ratelimit-limit"]  # the rate limiter reports itself


def test_query_parameters_reach_the_request(
    envoy: EnvoyProcess, keys: Keys, runs: RecordingRunServicer
) -> None:
    resp = envoy.request("GET", "/v1/runs/r-1:watch?after_seq=3", headers=keys.bearer())
    assert resp.status == 200
    events = [json.loads(chunk[len(b"data: ") :]) for chunk in resp.body.split(b"\n\n") if chunk]
    assert [int(e["event"]["seq"]) for e in events] == list(range(4, WATCH_EVENTS + 1))


def test_unknown_query_parameter_is_400(envoy: EnvoyProcess, keys: Keys) -> None:
    resp = envoy.request("GET", "/v1/phases?colour=blue", headers=keys.bearer())
    assert resp.status == 400
    assert "colour" in error_body(resp, INVALID_ARGUMENT)["message"]


@pytest.mark.parametrize(
    "path",
    ["/v1/nothing", "/v1/runs/r-1/nothing", "/ideamine.v1.HostRegistryService/RegisterHost", "/"],
)
def test_unknown_paths_are_404_not_503(envoy: EnvoyProcess, keys: Keys, path: str) -> None:
    resp = envoy.request("GET", path, headers=keys.bearer())
    assert resp.status == 404, resp
    error_body(resp, NOT_FOUND)


def test_wrong_verb_on_a_known_path_is_404(envoy: EnvoyProcess, keys: Keys) -> None:
    resp = envoy.request("DELETE", "/v1/runs", headers=keys.bearer())
    assert resp.status == 404
    error_body(resp, NOT_FOUND)


# -- authentication --------------------------------------------------------------------


def _other_key_token() -> str:
    return Keys(kid="test-key").token()  # same kid, different key


BAD_TOKENS: dict[str, Any] = {
    "missing": lambda k: None,
    "expired": lambda k: k.token(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200),
    "tampered": lambda k: tampered(k.token()),
    "wrong audience": lambda k: k.token(aud="someone-else"),
    "wrong issuer": lambda k: k.token(iss="evil"),
    "signed by another key": lambda k: _other_key_token(),
    "alg none": lambda k: jwt.encode(k.claims(), "", algorithm="none"),
    "not a jwt": lambda k: "abc.def",
}


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
def test_bad_tokens_are_401_with_a_json_body(envoy: EnvoyProcess, keys: Keys, case: str) -> None:
    token = BAD_TOKENS[case](keys)
    headers = {} if token is None else {"authorization": f"Bearer {token}"}
    resp = envoy.request("GET", "/v1/phases", headers=headers)
    assert resp.status == 401, (case, resp)
    error_body(resp, UNAUTHENTICATED)


def test_hs256_tokens_verify_against_the_symmetric_jwk(envoy: EnvoyProcess, keys: Keys) -> None:
    token = jwt.encode(keys.claims(roles=["viewer"]), HS256_SECRET, algorithm="HS256")
    assert envoy.request("GET", "/v1/phases", headers={"authorization": f"Bearer {token}"}).status == 200
    forged = jwt.encode(keys.claims(roles=["viewer"]), "not-the-secret-0123456789abcdef-x", algorithm="HS256")
    assert envoy.request("GET", "/v1/phases", headers={"authorization": f"Bearer {forged}"}).status == 401


def test_token_and_verified_payload_are_forwarded(
    envoy: EnvoyProcess, keys: Keys, runs: RecordingRunServicer
) -> None:
    token = keys.token(sub="bob", tenant="t9")
    forged = base64.urlsafe_b64encode(json.dumps({"sub": "mallory", "roles": ["admin"]}).encode()).decode()
    resp = envoy.request(
        "GET", "/v1/runs/r-7", headers={"authorization": f"Bearer {token}", "x-jwt-payload": forged}
    )
    assert resp.status == 200, resp
    assert resp.json()["run"]["id"] == "r-7"
    md = runs.last("GetRun")
    assert md["authorization"] == f"Bearer {token}"  # the orchestrator verifies it again
    payload = md["x-jwt-payload"]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert (claims["sub"], claims["tenant"], claims["roles"]) == ("bob", "t9", ["operator"])


# -- authorisation ----------------------------------------------------------------------

RUN = {"idea": "A booking app for yoga studios with waitlists", "title": "yoga"}


def test_viewer_may_read_but_not_write(envoy: EnvoyProcess, keys: Keys) -> None:
    viewer = keys.bearer(roles=["viewer"])
    assert envoy.request("GET", "/v1/runs/r-1", headers=viewer).status == 200
    resp = envoy.request("POST", "/v1/runs", body=RUN, headers=viewer)
    assert resp.status == 403
    error_body(resp, PERMISSION_DENIED)
    resp = envoy.request("POST", "/v1/runs/r-1:cancel", body={"reason": "x"}, headers=viewer)
    assert resp.status == 403


def test_operator_creates_and_cancels_runs(envoy: EnvoyProcess, keys: Keys) -> None:
    resp = envoy.request("POST", "/v1/runs", body=RUN, headers=keys.bearer(roles=["operator"]))
    assert resp.status == 200, resp
    run = resp.json()["run"]
    assert (run["idea"], run["title"]) == (RUN["idea"], "yoga")
    resp = envoy.request(
        "POST", f"/v1/runs/{run['id']}:cancel", body={"reason": "dup"}, headers=keys.bearer()
    )
    assert resp.status == 200
    assert resp.json()["run"]["status_reason"] == "dup"


def test_admin_only_rpcs_need_the_admin_role(envoy: EnvoyProcess, keys: Keys) -> None:
    path = "/v1/runs/r-1/gates/PHASE_PRD:waive"
    body = {"justification": "accepted risk"}
    resp = envoy.request("POST", path, body=body, headers=keys.bearer(roles=["operator"]))
    assert resp.status == 403
    error_body(resp, PERMISSION_DENIED)
    # an admin passes RBAC; this upstream has no GateService, so the call itself is UNIMPLEMENTED
    resp = envoy.request("POST", path, body=body, headers=keys.bearer(roles=["admin"]))
    assert resp.status == 501, resp
    assert resp.json()["code"] == 12


def test_a_token_without_roles_reads_nothing(envoy: EnvoyProcess, keys: Keys) -> None:
    resp = envoy.request("GET", "/v1/phases", headers=keys.bearer(roles=[]))
    assert resp.status == 403
    error_body(resp, PERMISSION_DENIED)


def _grpc_web(
    envoy: EnvoyProcess, path: str, message: bytes, headers: dict[str, str]
) -> tuple[int, bytes, bytes]:
    frame = b"\x00" + struct.pack(">I", len(message)) + message
    resp = envoy.request(
        "POST",
        path,
        body=frame,
        headers={"content-type": "application/grpc-web+proto", "x-grpc-web": "1", **headers},
    )
    data, trailers = b"", b""
    pos = resp.body
    while pos:
        flag, length = pos[0], struct.unpack(">I", pos[1:5])[0]
        chunk, pos = pos[5 : 5 + length], pos[5 + length :]
        if flag & 0x80:
            trailers += chunk
        else:
            data += chunk
    status = (
        resp.headers.get("grpc-status")
        or dict(line.split(":", 1) for line in trailers.decode().strip().splitlines())
        .get("grpc-status", "")
        .strip()
    )
    return int(status), data, trailers


def test_grpc_web_reads_for_viewers_and_rbac_on_writes(envoy: EnvoyProcess, keys: Keys) -> None:
    status, data, _ = _grpc_web(
        envoy,
        "/ideamine.v1.CatalogService/ListPhases",
        catalog_pb2.ListPhasesRequest().SerializeToString(),
        keys.bearer(roles=["viewer"]),
    )
    assert status == 0
    assert len(catalog_pb2.ListPhasesResponse.FromString(data).phases) == 13
    status, _, _ = _grpc_web(envoy, "/ideamine.v1.RunService/CreateRun", b"", keys.bearer(roles=["viewer"]))
    assert status == PERMISSION_DENIED


# -- errors -----------------------------------------------------------------------------


def test_invalid_argument_is_400_with_field_violations(envoy: EnvoyProcess, keys: Keys) -> None:
    resp = envoy.request("GET", "/v1/phases/PHASE_UNSPECIFIED", headers=keys.bearer())
    assert resp.status == 400
    body = error_body(resp, INVALID_ARGUMENT)
    (bad_request,) = [d for d in body["details"] if d["@type"].endswith("google.rpc.BadRequest")]
    assert bad_request["field_violations"][0]["field"] == "phase"


def test_not_found_is_404_with_error_info(envoy: EnvoyProcess, keys: Keys) -> None:
    resp = envoy.request("GET", "/v1/agents/nobody", headers=keys.bearer())
    assert resp.status == 404
    body = error_body(resp, NOT_FOUND)
    (info,) = [d for d in body["details"] if d["@type"].endswith("google.rpc.ErrorInfo")]
    assert info["reason"] == "NOT_FOUND"


def test_a_bug_is_a_bare_500_without_its_message(envoy: EnvoyProcess, keys: Keys) -> None:
    resp = envoy.request("GET", "/v1/agents", headers=keys.bearer())
    assert resp.status == 500
    error_body(resp, INTERNAL)
    assert SECRET.encode() not in resp.body and b"Traceback" not in resp.body


def test_an_unknown_enum_name_is_400(envoy: EnvoyProcess, keys: Keys) -> None:
    resp = envoy.request("GET", "/v1/phases/PHASE_NOPE", headers=keys.bearer())
    assert resp.status == 400
    error_body(resp, INVALID_ARGUMENT)


def test_malformed_json_is_400(envoy: EnvoyProcess, keys: Keys) -> None:
    resp = envoy.request(
        "POST", "/v1/runs", body="{not json", headers={**keys.bearer(), "content-type": "application/json"}
    )
    assert resp.status == 400
    error_body(resp, INVALID_ARGUMENT)


def test_oversized_body_is_413(envoy: EnvoyProcess, keys: Keys) -> None:
    limit = envoy.settings.limits.max_request_bytes
    resp = envoy.request("POST", "/v1/runs", body={"idea": "x" * (limit + 1)}, headers=keys.bearer())
    assert resp.status == 413
    error_body(resp, RESOURCE_EXHAUSTED)


# -- streams and browsers -------------------------------------------------------------------


def test_watch_run_streams_json_events_as_sse(envoy: EnvoyProcess, keys: Keys) -> None:
    events = list(sse_events(envoy.port, "/v1/runs/r-42:watch", keys.bearer(roles=["viewer"])))
    seqs = [e["event"]["seq"] for e in events]
    assert seqs == [str(i) for i in range(1, WATCH_EVENTS + 1)]  # int64 as a decimal string
    assert {e["event"]["run_id"] for e in events} == {"r-42"}


def test_cors_preflight_for_allowed_origins_only(envoy: EnvoyProcess) -> None:
    allowed = envoy.settings.cors.allow_origins[0]
    headers = {"origin": allowed, "access-control-request-method": "POST",
               "access-control-request-headers": "authorization, content-type"}  # fmt: skip
    resp = envoy.request("OPTIONS", "/v1/runs", headers=headers)
    assert resp.status == 200
    assert resp.headers["access-control-allow-origin"] == allowed
    assert "authorization" in resp.headers["access-control-allow-headers"]
    resp = envoy.request("OPTIONS", "/v1/runs", headers={**headers, "origin": "https://evil.example"})
    assert "access-control-allow-origin" not in resp.headers


def test_admin_interface_listens_on_loopback_only(envoy: EnvoyProcess) -> None:
    server_info = json.loads(envoy.admin("/server_info").body)
    assert server_info["state"] == "LIVE"
    address = (envoy.workdir / "admin.address").read_text().strip()
    assert address.startswith("127.0.0.1:")


def test_upstream_is_healthy_by_grpc_health_checks(envoy: EnvoyProcess) -> None:
    clusters = json.loads(envoy.admin("/clusters?format=json").body)["cluster_statuses"]
    (orchestrator,) = [c for c in clusters if c["name"] == "orchestrator"]
    hosts = orchestrator["host_statuses"]
    assert hosts and all(h["health_status"]["eds_health_status"] == "HEALTHY" for h in hosts)
    assert all("failed_active_health_check" not in h["health_status"] for h in hosts)
    assert envoy.stat("cluster.orchestrator.health_check.success") >= 1


def test_headers_grpc_cannot_carry_are_dropped_not_a_500(
    envoy: EnvoyProcess, keys: Keys, runs: RecordingRunServicer
) -> None:
    headers = {**keys.bearer(), "g&_3": "V{A0]A!", "x-fine.header_1": "kept"}
    resp = envoy.request("GET", "/v1/runs/r-8", headers=headers)
    assert resp.status == 200, resp
    md = runs.last("GetRun")
    assert md["x-fine.header_1"] == "kept" and "g&_3" not in md
