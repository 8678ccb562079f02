"""The HTTP filter chain of the gateway listener, in order, one builder per filter.

``health_check`` → ``cors`` → ``grpc_web`` → ``local_ratelimit`` → ``jwt_authn`` → ``rbac`` →
``grpc_json_transcoder`` → ``lua`` (drops headers gRPC cannot carry) → ``router``. Why this order: ``/healthz`` must answer without a
token; CORS preflights carry no token either; gRPC-web is unwrapped before the policies so
their refusals (401/403/429) reach a gRPC-web client as gRPC statuses it understands (it only
changes framing, not the path); the rate limit sheds load before any token is checked; RBAC
reads the roles ``jwt_authn`` verified; REST is transcoded last, so every policy sees the
path the client sent.

Role rules come from the route table: a viewer may call the read RPCs (REST GET bindings and
their gRPC paths), operators and admins everything except the admin-only RPCs, admins all.
"""

from __future__ import annotations

import base64
from typing import Any

from google.protobuf import any_pb2, descriptor_pb2  # type: ignore[import-untyped]
from google.rpc import error_details_pb2, status_pb2

from gateway.config import GatewaySettings, JwtSettings
from gateway.routes import Route, RouteTable

__all__ = ["JWKS_CLUSTER", "JWT_PROVIDER", "PAYLOAD_METADATA", "envoy_descriptor_set", "http_filters"]

#: jwt_authn provider name
JWT_PROVIDER = "ideamine"
#: dynamic-metadata key under which jwt_authn stores the verified payload (read by RBAC, access log)
PAYLOAD_METADATA = "jwt_payload"
#: the cluster remote JWKS are fetched through
JWKS_CLUSTER = "jwks"
_TYPES = "type.googleapis.com/envoy.extensions.filters.http"
_ROLES = ("viewer", "operator", "admin")


def _filter(name: str, type_name: str, config: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": f"envoy.filters.http.{name}",
        "typed_config": {"@type": f"{_TYPES}.{type_name}", **config},
    }


def _seconds(value: float) -> str:
    return f"{value:g}s"


def _percent_100(runtime_key: str) -> dict[str, Any]:
    return {"runtime_key": runtime_key, "default_value": {"numerator": 100, "denominator": "HUNDRED"}}


def health_check() -> dict[str, Any]:
    """Answer ``GET /healthz`` in Envoy itself: public, 503 once Envoy is draining."""
    return _filter(
        "health_check",
        "health_check.v3.HealthCheck",
        {"pass_through_mode": False, "headers": [{"name": ":path", "string_match": {"exact": "/healthz"}}]},
    )


def local_ratelimit(settings: GatewaySettings) -> dict[str, Any]:
    """One token bucket for the listener, enabled and enforced for 100 % of requests (429)."""
    rl = settings.rate_limit
    return _filter(
        "local_ratelimit",
        "local_ratelimit.v3.LocalRateLimit",
        {
            "stat_prefix": "rest_rate_limit",
            "token_bucket": {
                "max_tokens": rl.max_tokens,
                "tokens_per_fill": rl.tokens_per_fill,
                "fill_interval": _seconds(rl.fill_interval_s),
            },
            "filter_enabled": _percent_100("gateway.rate_limit.enabled"),
            "filter_enforced": _percent_100("gateway.rate_limit.enforced"),
            "enable_x_ratelimit_headers": "DRAFT_VERSION_03",
        },
    )


def _jwks(jwt: JwtSettings) -> dict[str, Any]:
    source = jwt.source
    if source == "inline":
        return {"local_jwks": {"inline_string": jwt.jwks_inline}}
    if source == "file":
        return {"local_jwks": {"filename": jwt.jwks_file}}
    return {
        "remote_jwks": {
            "http_uri": {
                "uri": jwt.jwks_url,
                "cluster": JWKS_CLUSTER,
                "timeout": _seconds(jwt.fetch_timeout_s),
            },
            "cache_duration": _seconds(jwt.cache_duration_s),
            # fetch at start-up in the background and keep refreshing; never block the listener
            "async_fetch": {"fast_listener": False, "failed_refetch_duration": "1s"},
            "retry_policy": {
                "num_retries": jwt.fetch_retries,
                "retry_back_off": {"base_interval": "0.2s", "max_interval": "3s"},
            },
        }
    }


def jwt_authn(settings: GatewaySettings) -> dict[str, Any]:
    """Require a valid bearer token on every route; forward it and its payload upstream."""
    jwt = settings.jwt
    provider = {
        "issuer": jwt.issuer,
        "audiences": list(jwt.audiences),
        **_jwks(jwt),
        # the orchestrator verifies the token again, so the header must reach it
        "forward": True,
        "forward_payload_header": jwt.payload_header,
        "payload_in_metadata": PAYLOAD_METADATA,
        "clock_skew_seconds": jwt.clock_skew_s,
    }
    return _filter(
        "jwt_authn",
        "jwt_authn.v3.JwtAuthentication",
        {
            "providers": {JWT_PROVIDER: provider},
            "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": JWT_PROVIDER}}],
            "bypass_cors_preflight": True,
        },
    )


def _role(name: str) -> dict[str, Any]:
    return {
        "sourced_metadata": {
            "metadata_matcher": {
                "filter": "envoy.filters.http.jwt_authn",
                "path": [{"key": PAYLOAD_METADATA}, {"key": "roles"}],
                "value": {"list_match": {"one_of": {"string_match": {"exact": name}}}},
            }
        }
    }


def _any_of(rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {"or_rules": {"rules": rules}}


def _calls(routes: list[Route]) -> dict[str, Any]:
    """A permission matching these RPCs over REST (verb + path template) or gRPC(-web) (path).

    One small regex per template: RE2 program size is capped, so no single alternation.
    """
    rules: list[dict[str, Any]] = []
    for verb in sorted({r.verb for r in routes}):
        templates = sorted({r.path_regex for r in routes if r.verb == verb})
        paths = [{"url_path": {"path": {"safe_regex": {"regex": t}}}} for t in templates]
        method = {"header": {"name": ":method", "string_match": {"exact": verb}}}
        rules.append({"and_rules": {"rules": [method, _any_of(paths)]}})
    rules.extend({"url_path": {"path": {"exact": p}}} for p in sorted({r.grpc_path for r in routes}))
    return _any_of(rules)


def rbac(settings: GatewaySettings, table: RouteTable) -> dict[str, Any]:
    """Roles by route: viewers read, operators and admins write, admins alone call admin-only RPCs."""
    admin_only = [r for r in table.routes if f"{r.service}/{r.method}" in settings.rbac.admin_only]
    writes: dict[str, Any] = {"not_rule": _calls(admin_only)} if admin_only else {"any": True}
    policies = {
        "read": {"permissions": [_calls(list(table.reads))], "principals": [_role(r) for r in _ROLES]},
        "write": {"permissions": [writes], "principals": [_role("operator"), _role("admin")]},
        "admin": {"permissions": [{"any": True}], "principals": [_role("admin")]},
    }
    return _filter("rbac", "rbac.v3.RBAC", {"rules": {"action": "ALLOW", "policies": policies}})


def envoy_descriptor_set(table: RouteTable) -> bytes:
    """The descriptor set given to the transcoder.

    Comments (source info) are dropped to keep the config small; ``google.rpc.Status`` and
    the error-detail types are added so gRPC errors become ``google.rpc.Status`` JSON
    with their ``BadRequest``/``ErrorInfo`` details printed.
    """
    fds = descriptor_pb2.FileDescriptorSet()
    fds.CopyFrom(table.descriptor_set)
    present = {f.name for f in fds.file}
    for module in (any_pb2, status_pb2, error_details_pb2):
        if module.DESCRIPTOR.name not in present:
            module.DESCRIPTOR.CopyToProto(fds.file.add())
            present.add(module.DESCRIPTOR.name)
    for f in fds.file:
        f.ClearField("source_code_info")
    return bytes(fds.SerializeToString(deterministic=True))


def grpc_json_transcoder(settings: GatewaySettings, table: RouteTable) -> dict[str, Any]:
    """REST ↔ gRPC for every public service, from the descriptor's HTTP annotations only."""
    stream_option = (
        "stream_sse_style_delimited" if settings.stream_format == "sse" else "stream_newline_delimited"
    )
    return _filter(
        "grpc_json_transcoder",
        "grpc_json_transcoder.v3.GrpcJsonTranscoder",
        {
            "proto_descriptor_bin": base64.b64encode(envoy_descriptor_set(table)).decode(),
            "services": list(table.services),
            "print_options": {
                "add_whitespace": False,
                "always_print_primitive_fields": True,
                "always_print_enums_as_ints": False,
                "preserve_proto_field_names": True,
                stream_option: True,
            },
            "convert_grpc_status": True,
            "auto_mapping": False,
            "request_validation_options": {
                # a wrong path is a 404 and an unknown parameter a 400, never a 503 from upstream
                "reject_unknown_method": True,
                "reject_unknown_query_parameters": True,
                "reject_binding_body_field_collisions": True,
            },
            "max_request_body_size": settings.limits.max_request_bytes,
            "max_response_body_size": settings.limits.max_response_bytes,
            "query_param_unescape_plus": True,
        },
    )


#: gRPC metadata keys are ``[0-9a-z_.-]``; HTTP allows more (``&``, ``!``, ``~`` …), and the
#: orchestrator's gRPC server fails a call carrying such a header with INTERNAL. Drop them.
_STRIP_NON_GRPC_HEADERS = """
function envoy_on_request(handle)
  local headers = handle:headers()
  local illegal = {}
  for key, _ in pairs(headers) do
    if key:sub(1, 1) ~= ":" and key:find("[^0-9a-z_.%-]") then
      illegal[#illegal + 1] = key
    end
  end
  for _, key in ipairs(illegal) do
    headers:remove(key)
  end
end
"""


def strip_non_grpc_headers() -> dict[str, Any]:
    """Drop request headers whose names are not valid gRPC metadata keys (a 500 otherwise)."""
    return _filter("lua", "lua.v3.Lua", {"default_source_code": {"inline_string": _STRIP_NON_GRPC_HEADERS}})


def http_filters(settings: GatewaySettings, table: RouteTable) -> list[dict[str, Any]]:
    """The listener's HTTP filters in the order explained in the module docstring."""
    return [
        health_check(),
        _filter("cors", "cors.v3.Cors", {}),
        _filter("grpc_web", "grpc_web.v3.GrpcWeb", {}),
        local_ratelimit(settings),
        jwt_authn(settings),
        rbac(settings, table),
        grpc_json_transcoder(settings, table),
        strip_non_grpc_headers(),
        _filter("router", "router.v3.Router", {"suppress_envoy_headers": True}),
    ]
