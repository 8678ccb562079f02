"""The API contract read from the committed descriptor set (ideamine/_proto/ideamine.pb).

What the gateway, Envoy and every client rely on: the services and RPCs exist, public RPCs
have resource-style REST mappings and internal ones have none, enums are well-formed and
mirror the Python enums and the phase catalogue, list RPCs paginate, everything is documented.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2  # type: ignore[import-untyped]

from ideamine import enums
from ideamine.catalogue import load_catalogue
from ideamine.convert import enum_from_proto, enum_prefix, enum_to_proto, phase_from_proto, phase_to_proto

ROOT = Path(__file__).resolve().parents[2]
FDS = descriptor_pb2.FileDescriptorSet.FromString((ROOT / "ideamine/_proto/ideamine.pb").read_bytes())
OURS = [f for f in FDS.file if f.package == "ideamine.v1"]
SERVICES = {s.name: s for f in OURS for s in f.service}
MESSAGES = {f".ideamine.v1.{m.name}": m for f in OURS for m in f.message_type}
ENUMS = {e.name: e for f in OURS for e in f.enum_type}

PUBLIC = {
    "RunService": [
        "CreateRun", "GetRun", "ListRuns", "CancelRun", "PauseRun", "ResumeRun", "WatchRun", "ListRunEvents",
    ],
    "PhaseService": ["ListPhaseExecutions", "GetPhaseExecution"],
    "ArtifactService": ["ListArtifacts", "GetArtifact", "RenderArtifact", "ExportDossier"],
    "ClarificationService": ["ListQuestions", "AnswerQuestion", "ListAssumptions"],
    "GateService": ["ListGateEvaluations", "WaiveGate"],
    "BudgetService": ["GetBudget", "RaiseBudget"],
    "CheckpointService": ["ListCheckpoints", "ResumeFromCheckpoint"],
    "CatalogService": ["ListPhases", "GetPhase", "ListAgents", "GetAgent"],
    "TaskService": ["SubmitTasks", "GetTask"],
}  # fmt: skip
INTERNAL = {
    "AgentHostService": ["GetStatus", "ListAgents", "Drain"],
    "HostRegistryService": ["RegisterHost", "HeartbeatHost", "DeregisterHost"],
}
MIRRORED = [
    enums.RunStatus,
    enums.PhaseStatus,
    enums.TaskStatus,
    enums.GateDecision,
    enums.QuestionStatus,
    enums.Policy,
]


def _http(method: descriptor_pb2.MethodDescriptorProto) -> Any:
    if not method.options.HasExtension(annotations_pb2.http):
        return None
    return method.options.Extensions[annotations_pb2.http]


def test_the_descriptor_set_lists_every_service_and_rpc() -> None:
    assert {name: [m.name for m in s.method] for name, s in SERVICES.items()} == PUBLIC | INTERNAL


def test_the_descriptor_set_is_self_contained() -> None:
    names = {f.name for f in FDS.file}
    assert {
        "google/api/annotations.proto",
        "google/api/http.proto",
        "google/protobuf/timestamp.proto",
    } <= names
    for f in FDS.file:
        assert set(f.dependency) <= names, f.name


@pytest.mark.parametrize("service", sorted(PUBLIC))
def test_public_rpcs_have_resource_style_http_mappings(service: str) -> None:
    for method in SERVICES[service].method:
        rule = _http(method)
        assert rule is not None, f"{service}.{method.name} has no google.api.http option"
        verb = rule.WhichOneof("pattern")
        path = getattr(rule, verb)
        assert verb in {"get", "post", "patch", "delete"}, (method.name, verb)
        assert path.startswith("/v1/"), (method.name, path)
        request = MESSAGES[method.input_type]
        fields = {f.name for f in request.field}
        for var in re.findall(r"\{([a-z_]+)\}", path):
            assert var in fields, f"{method.name}: path variable {var} is not a field of {request.name}"
        if verb == "get":
            assert not rule.body, f"{method.name}: GET with a body"
        else:
            assert rule.body == "*" or rule.body in fields, (method.name, rule.body)


def test_mapping_examples_from_the_design() -> None:
    def rule(service: str, name: str) -> tuple[str, str, str]:
        (m,) = [m for m in SERVICES[service].method if m.name == name]
        r = _http(m)
        verb = r.WhichOneof("pattern")
        return verb, getattr(r, verb), r.body

    assert rule("RunService", "CreateRun") == ("post", "/v1/runs", "run")
    assert rule("RunService", "GetRun") == ("get", "/v1/runs/{run_id}", "")
    assert rule("RunService", "CancelRun") == ("post", "/v1/runs/{run_id}:cancel", "*")
    assert rule("RunService", "ListRunEvents") == ("get", "/v1/runs/{run_id}/events", "")
    assert rule("ArtifactService", "GetArtifact") == ("get", "/v1/runs/{run_id}/artifacts/{artifact_id}", "")
    assert rule("ClarificationService", "AnswerQuestion") == (
        "post",
        "/v1/runs/{run_id}/questions/{question_id}:answer",
        "*",
    )


def test_watch_run_is_a_server_stream() -> None:
    (watch,) = [m for m in SERVICES["RunService"].method if m.name == "WatchRun"]
    assert watch.server_streaming and not watch.client_streaming


@pytest.mark.parametrize("service", sorted(INTERNAL))
def test_internal_services_have_no_http_mapping(service: str) -> None:
    assert [m.name for m in SERVICES[service].method if _http(m) is not None] == []


def test_every_enum_starts_with_an_unspecified_zero() -> None:
    assert len(ENUMS) >= 7
    for name, e in ENUMS.items():
        prefix = enum_prefix(name)
        assert (e.value[0].name, e.value[0].number) == (f"{prefix}UNSPECIFIED", 0), name
        assert all(v.name.startswith(prefix) for v in e.value), name


@pytest.mark.parametrize("cls", MIRRORED, ids=lambda c: c.__name__)
def test_proto_enums_mirror_the_python_enums(cls: type[StrEnum]) -> None:
    prefix = enum_prefix(cls.__name__)
    proto = [v.name.removeprefix(prefix) for v in ENUMS[cls.__name__].value if v.number != 0]
    assert proto == [m.name for m in cls]
    for member in cls:
        assert enum_from_proto(cls, enum_to_proto(member)) is member


def test_phase_enum_lists_the_catalogue_in_order() -> None:
    names = load_catalogue().names
    proto = [v.name.removeprefix("PHASE_") for v in ENUMS["Phase"].value if v.number != 0]
    assert proto == [n.upper().replace("-", "_") for n in names]
    assert [v.number for v in ENUMS["Phase"].value] == list(range(len(names) + 1))
    assert [phase_from_proto(phase_to_proto(n)) for n in names] == list(names)


def test_list_rpcs_paginate() -> None:
    for service in SERVICES.values():
        for m in service.method:
            if not m.name.startswith("List") or service.name == "AgentHostService":
                continue
            req = {f.name: f.type for f in MESSAGES[m.input_type].field}
            resp = {f.name: f.type for f in MESSAGES[m.output_type].field}
            assert req.get("page_size") == descriptor_pb2.FieldDescriptorProto.TYPE_INT32, m.name
            assert req.get("page_token") == descriptor_pb2.FieldDescriptorProto.TYPE_STRING, m.name
            assert resp.get("next_page_token") == descriptor_pb2.FieldDescriptorProto.TYPE_STRING, m.name


def _elements(f: descriptor_pb2.FileDescriptorProto) -> list[tuple[tuple[int, ...], str]]:
    """Source-info path and name of every documentable element of a file."""
    out: list[tuple[tuple[int, ...], str]] = []
    for i, m in enumerate(f.message_type):
        out.append(((4, i), m.name))
        out += [((4, i, 2, j), f"{m.name}.{fl.name}") for j, fl in enumerate(m.field)]
    for i, e in enumerate(f.enum_type):
        out.append(((5, i), e.name))
        out += [((5, i, 2, j), v.name) for j, v in enumerate(e.value)]
    for i, svc in enumerate(f.service):
        out.append(((6, i), svc.name))
        out += [((6, i, 2, j), f"{svc.name}.{m.name}") for j, m in enumerate(svc.method)]
    return out


def test_every_element_is_documented() -> None:
    """Every service, RPC, message, field, enum and enum value has a leading comment."""
    undocumented = []
    for f in OURS:
        comments = {tuple(loc.path): loc.leading_comments.strip() for loc in f.source_code_info.location}
        undocumented += [f"{f.name}: {name}" for path, name in _elements(f) if not comments.get(path)]
    assert undocumented == []
    assert sum(len(_elements(f)) for f in OURS) > 400
