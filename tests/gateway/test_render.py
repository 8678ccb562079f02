"""The rendered Envoy bootstrap: what it contains, and that the real Envoy accepts it."""

from __future__ import annotations

import base64
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.protobuf import descriptor_pb2  # type: ignore[import-untyped]

from gateway.config import GatewaySettings, load_settings, settings_file
from gateway.envoy import render, render_yaml
from gateway.routes import load_routes
from gateway.serve import envoy_argv, envoy_binary, serve, validate, write_config
from ideamine.errors import InvalidInput
from tests.contracts.test_api import INTERNAL, PUBLIC
from tests.gateway.support import Keys

FILTER_ORDER = [
    "envoy.filters.http.health_check",
    "envoy.filters.http.cors",
    "envoy.filters.http.grpc_web",
    "envoy.filters.http.local_ratelimit",
    "envoy.filters.http.jwt_authn",
    "envoy.filters.http.rbac",
    "envoy.filters.http.grpc_json_transcoder",
    "envoy.filters.http.lua",
    "envoy.filters.http.router",
]


def _shipped(name: str, tmp_path: Path) -> GatewaySettings:
    """A shipped settings file with what a user would supply for it."""
    if name == "production":
        return load_settings(settings_file(name), env={})
    if name == "default":
        return load_settings(
            settings_file(name), env={"IDEAMINE_JWT_HS256_SECRET": "local-development-secret"}
        )
    jwks = tmp_path / "jwks.json"
    jwks.write_text(Keys().jwks())
    return load_settings(settings_file(name), env={"IDEAMINE_JWT_JWKS_FILE": str(jwks)})


def _hcm(config: dict[str, Any]) -> Any:
    (listener,) = config["static_resources"]["listeners"]
    return listener["filter_chains"][0]["filters"][0]["typed_config"]


def _filters(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f["typed_config"] for f in _hcm(config)["http_filters"]}


@pytest.mark.parametrize("name", ["default", "production", "test"])
def test_envoy_validates_the_shipped_settings(name: str, tmp_path: Path) -> None:
    path = write_config(_shipped(name, tmp_path), tmp_path / "envoy.yaml")
    validate(path)  # raises on rejection


def test_validate_reports_envoys_reason(tmp_path: Path) -> None:
    config = render(_shipped("default", tmp_path))
    _hcm(config)["stat_prefix"] = ""
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(InvalidInput, match="StatPrefix"):
        validate(path)


def test_filters_come_in_the_documented_order(tmp_path: Path) -> None:
    assert list(_filters(render(_shipped("default", tmp_path)))) == FILTER_ORDER


def test_transcoder_serves_every_public_service_and_nothing_internal(tmp_path: Path) -> None:
    transcoder = _filters(render(_shipped("default", tmp_path)))["envoy.filters.http.grpc_json_transcoder"]
    assert sorted(transcoder["services"]) == sorted(f"ideamine.v1.{s}" for s in PUBLIC)
    assert not {f"ideamine.v1.{s}" for s in INTERNAL} & set(transcoder["services"])
    assert transcoder["convert_grpc_status"] is True and transcoder["auto_mapping"] is False
    assert transcoder["request_validation_options"] == {
        "reject_unknown_method": True,
        "reject_unknown_query_parameters": True,
        "reject_binding_body_field_collisions": True,
    }
    assert transcoder["print_options"]["preserve_proto_field_names"] is True
    assert transcoder["print_options"]["stream_sse_style_delimited"] is True
    fds = descriptor_pb2.FileDescriptorSet.FromString(base64.b64decode(transcoder["proto_descriptor_bin"]))
    names = {f.name for f in fds.file}
    assert {"google/rpc/status.proto", "google/rpc/error_details.proto", "ideamine/v1/run.proto"} <= names
    assert not any(f.HasField("source_code_info") for f in fds.file)


def test_ndjson_stream_format(tmp_path: Path) -> None:
    settings = replace(_shipped("default", tmp_path), stream_format="ndjson")
    options = _filters(render(settings))["envoy.filters.http.grpc_json_transcoder"]["print_options"]
    assert options["stream_newline_delimited"] is True and "stream_sse_style_delimited" not in options


def test_rate_limit_is_enabled_and_enforced_for_everyone(tmp_path: Path) -> None:
    rl = _filters(render(_shipped("production", tmp_path)))["envoy.filters.http.local_ratelimit"]
    for key in ("filter_enabled", "filter_enforced"):
        assert rl[key]["default_value"] == {"numerator": 100, "denominator": "HUNDRED"}
    assert rl["token_bucket"]["max_tokens"] == 1000
    assert rl["enable_x_ratelimit_headers"] == "DRAFT_VERSION_03"


def test_production_fetches_the_jwks_asynchronously_with_retries(tmp_path: Path) -> None:
    config = render(_shipped("production", tmp_path))
    provider = _filters(config)["envoy.filters.http.jwt_authn"]["providers"]["ideamine"]
    remote = provider["remote_jwks"]
    assert remote["async_fetch"] == {"fast_listener": False, "failed_refetch_duration": "1s"}
    assert remote["retry_policy"]["num_retries"] == 3
    assert provider["forward"] is True and provider["forward_payload_header"] == "x-jwt-payload"
    clusters = {c["name"]: c for c in config["static_resources"]["clusters"]}
    tls = clusters[remote["http_uri"]["cluster"]]["transport_socket"]["typed_config"]
    assert tls["sni"] == "auth.example.com"


def test_upstream_is_http2_with_grpc_health_checks(tmp_path: Path) -> None:
    config = render(_shipped("production", tmp_path))
    (cluster,) = [c for c in config["static_resources"]["clusters"] if c["name"] == "orchestrator"]
    options = cluster["typed_extension_protocol_options"][
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
    ]
    assert "http2_protocol_options" in options["explicit_http_config"]
    (check,) = cluster["health_checks"]
    assert check["grpc_health_check"] == {"service_name": ""}


def test_admin_is_on_loopback_and_streams_have_no_route_timeout(tmp_path: Path) -> None:
    config = render(_shipped("production", tmp_path))
    assert config["admin"]["address"]["socket_address"]["address"] == "127.0.0.1"
    routes = _hcm(config)["route_config"]["virtual_hosts"][0]["routes"]
    by_path = {r["match"].get("path"): r for r in routes}
    assert by_path["/ideamine.v1.RunService/WatchRun"]["route"]["timeout"] == "0s"
    assert routes[-1]["direct_response"]["status"] == 404


def test_viewer_permissions_cover_exactly_the_get_bindings(tmp_path: Path) -> None:
    rbac = _filters(render(_shipped("default", tmp_path)))["envoy.filters.http.rbac"]["rules"]["policies"]
    read = rbac["read"]["permissions"][0]["or_rules"]["rules"]
    grpc_paths = {r["url_path"]["path"]["exact"] for r in read if "url_path" in r}
    table = load_routes()
    assert grpc_paths == {r.grpc_path for r in table.reads}
    assert "/ideamine.v1.RunService/CreateRun" not in grpc_paths
    roles = [p["sourced_metadata"]["metadata_matcher"]["value"]["list_match"]["one_of"]["string_match"]["exact"]
             for p in rbac["write"]["principals"]]  # fmt: skip
    assert roles == ["operator", "admin"]


def test_render_yaml_round_trips_and_says_it_is_generated(tmp_path: Path) -> None:
    settings = _shipped("default", tmp_path)
    text = render_yaml(settings)
    assert text.startswith("# Envoy bootstrap of the IdeaMine gateway")
    assert yaml.safe_load(text) == render(settings)


def test_serve_validates_then_execs_envoy(tmp_path: Path) -> None:
    seen: list[list[str]] = []

    def fake_exec(path: str, argv: Any) -> None:
        seen.append(list(argv))

    settings = _shipped("production", tmp_path)
    out = tmp_path / "envoy.yaml"
    with pytest.raises(SystemExit):
        serve(settings, config=out, base_id=7, execv=fake_exec)
    assert seen == [envoy_argv(settings, out, binary=envoy_binary(), base_id=7)]
    assert seen[0][:3] == [str(envoy_binary()), "-c", str(out)]
    assert "--concurrency" in seen[0] and yaml.safe_load(out.read_text()) == render(settings)
