"""Render the Envoy bootstrap (``envoy.yaml``) from the gateway settings and the route table.

One listener (REST, gRPC-web and gRPC on ``settings.listen``) whose HTTP filters are built in
:mod:`gateway.filters`; one HTTP/2 cluster of orchestrator replicas checked with the
standard gRPC health service; a JWKS cluster when keys are fetched remotely; the admin
interface on loopback only. Local replies (401 from ``jwt_authn``, 403 from RBAC, 429 from
the rate limit, 404 for unknown paths, 413 for oversized bodies, 503 …) are rewritten to the
JSON shape of ``google.rpc.Status`` — ``{"code": <gRPC code>, "message": ...}`` — the same
shape the transcoder gives gRPC errors, so REST clients parse one error format.

:func:`render` returns the bootstrap as a dict; :func:`render_yaml` dumps it (pyyaml). The
Kubernetes ConfigMap and ``ideamine envoy-config`` both call :func:`render_yaml`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import yaml

from gateway.config import Address, GatewaySettings
from gateway.filters import JWKS_CLUSTER, JWT_PROVIDER, PAYLOAD_METADATA, http_filters
from gateway.routes import RouteTable, load_routes

__all__ = ["LOCAL_REPLY_CODES", "ORCHESTRATOR_CLUSTER", "render", "render_yaml"]

#: the upstream cluster name
ORCHESTRATOR_CLUSTER = "orchestrator"
#: HTTP status of an Envoy-generated reply → the gRPC code its JSON body carries
#: (the inverse of the transcoder's gRPC → HTTP mapping, so both error sources agree)
LOCAL_REPLY_CODES: dict[int, int] = {
    400: 3,  # INVALID_ARGUMENT (bad JSON, unknown query parameter)
    401: 16,  # UNAUTHENTICATED
    403: 7,  # PERMISSION_DENIED
    404: 5,  # NOT_FOUND
    413: 8,  # RESOURCE_EXHAUSTED
    429: 8,  # RESOURCE_EXHAUSTED
    500: 13,  # INTERNAL
    502: 14,  # UNAVAILABLE
    503: 14,  # UNAVAILABLE
    504: 4,  # DEADLINE_EXCEEDED
}
_UNKNOWN = 2
#: CA bundle used to verify a remote JWKS server (Debian and the official Envoy image)
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def _socket(host: str, port: int) -> dict[str, Any]:
    return {"socket_address": {"address": host, "port_value": port}}


def _seconds(value: float) -> str:
    return f"{value:g}s"


def _json_body(code: int) -> dict[str, Any]:
    return {
        "json_format": {"code": code, "message": "%LOCAL_REPLY_BODY%"},
        "content_type": "application/json",
    }


def _status_is(op: str, status: int) -> dict[str, Any]:
    return {
        "status_code_filter": {
            "comparison": {
                "op": op,
                "value": {"default_value": status, "runtime_key": f"gateway.reply_{op}_{status}"},
            }
        }
    }


def local_reply_config() -> dict[str, Any]:
    """Every Envoy-generated error as ``{"code", "message"}`` JSON with the matching gRPC code.

    Only for HTTP clients: a gRPC or gRPC-web caller already gets the status as
    ``grpc-status``/``grpc-message`` (Envoy maps the HTTP code), so its replies are left alone.
    ``jwt_authn`` answers a token for another audience with 403; to a client that is a bad
    credential like any other, so it becomes a 401 (RFC 6750 ``invalid_token``), told apart
    from an RBAC denial by its response-code details through a CEL filter.
    """
    # the transcoder has already turned a REST request into gRPC when it rejects its body, but
    # it leaves x-envoy-original-path behind; gRPC-web requests have no such header
    not_grpc = {
        "or_filter": {
            "filters": [
                {
                    "header_filter": {
                        "header": {
                            "name": "content-type",
                            "string_match": {"prefix": "application/grpc"},
                            "invert_match": True,
                            "treat_missing_header_as_empty": True,
                        }
                    }
                },
                {"header_filter": {"header": {"name": "x-envoy-original-path", "present_match": True}}},
            ]
        }
    }
    from_jwt = {
        "extension_filter": {
            "name": "envoy.access_loggers.extension_filters.cel",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter",
                "expression": "response.code_details.startsWith('jwt_authn_access_denied')",
            },
        }
    }

    def when(*filters: dict[str, Any]) -> dict[str, Any]:
        return {"and_filter": {"filters": list(filters)}}

    mappers = [
        {
            "filter": when(_status_is("EQ", 403), from_jwt, not_grpc),
            "status_code": 401,
            "body_format_override": _json_body(LOCAL_REPLY_CODES[401]),
        },
        {"filter": when(_status_is("EQ", 403), from_jwt), "status_code": 401},
        *(
            {"filter": when(_status_is("EQ", status), not_grpc), "body_format_override": _json_body(code)}
            for status, code in LOCAL_REPLY_CODES.items()
        ),
        {"filter": when(_status_is("GE", 400), not_grpc), "body_format_override": _json_body(_UNKNOWN)},
    ]
    return {"mappers": mappers}


def route_config(settings: GatewaySettings, table: RouteTable) -> dict[str, Any]:
    """Routes on the gRPC path (the transcoder rewrites REST paths before the router matches).

    Server streams get no route timeout (only the idle timeout); every public service goes to
    the orchestrator; REST prefixes are routed too, for the filters that run before the
    transcoder rewrites the path (CORS); anything else — internal services included — is a 404.
    """
    up = settings.upstream
    streams = [
        {
            "match": {"path": r.grpc_path},
            "route": {
                "cluster": ORCHESTRATOR_CLUSTER,
                "timeout": "0s",
                "idle_timeout": _seconds(up.stream_idle_timeout_s),
            },
        }
        for r in table.streams
    ]
    services = [
        {
            "match": {"prefix": f"/{service}/"},
            "route": {"cluster": ORCHESTRATOR_CLUSTER, "timeout": _seconds(up.request_timeout_s)},
        }
        for service in table.services
    ]
    # REST paths as the client sent them: filters before the transcoder (CORS) resolve these
    rest = [
        {
            "match": {"prefix": prefix},
            "route": {"cluster": ORCHESTRATOR_CLUSTER, "timeout": _seconds(up.request_timeout_s)},
        }
        for prefix in dict.fromkeys("/" + r.path.split("/")[1] + "/" for r in table.routes)
    ]
    cors = settings.cors
    cors_policy = {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy",
        "allow_origin_string_match": [
            {"safe_regex": {"regex": ".*"}} if o == "*" else {"exact": o} for o in cors.allow_origins
        ],
        "allow_methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
        "allow_headers": "authorization, content-type, x-grpc-web, x-user-agent, grpc-timeout, x-request-id",
        "expose_headers": "grpc-status, grpc-message, x-request-id, x-ratelimit-limit, x-ratelimit-remaining, "
        "x-ratelimit-reset",
        "max_age": str(cors.max_age_s),
    }
    return {
        "name": "ideamine",
        "virtual_hosts": [
            {
                "name": "ideamine",
                "domains": ["*"],
                "typed_per_filter_config": {"envoy.filters.http.cors": cors_policy}
                if cors.allow_origins
                else {},
                "routes": [
                    *streams,
                    *services,
                    *rest,
                    {
                        "match": {"prefix": "/"},
                        "direct_response": {"status": 404, "body": {"inline_string": "no route"}},
                    },
                ],
            }
        ],
    }


def _access_log() -> list[dict[str, Any]]:
    fields = {
        "time": "%START_TIME%",
        "method": "%REQ(:METHOD)%",
        "path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
        "status": "%RESPONSE_CODE%",
        "grpc_status": "%GRPC_STATUS%",
        "details": "%RESPONSE_CODE_DETAILS%",
        "duration_ms": "%DURATION%",
        "bytes_in": "%BYTES_RECEIVED%",
        "bytes_out": "%BYTES_SENT%",
        "upstream": "%UPSTREAM_HOST%",
        "request_id": "%REQ(X-REQUEST-ID)%",
        "sub": f"%DYNAMIC_METADATA(envoy.filters.http.jwt_authn:{PAYLOAD_METADATA}:sub)%",
        "tenant": f"%DYNAMIC_METADATA(envoy.filters.http.jwt_authn:{PAYLOAD_METADATA}:tenant)%",
    }
    return [
        {
            "name": "envoy.access_loggers.stdout",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
                "log_format": {"json_format": fields},
            },
        }
    ]


def listener(settings: GatewaySettings, table: RouteTable) -> dict[str, Any]:
    """The one listener: HTTP/1.1 and HTTP/2 (REST, gRPC-web, gRPC)."""
    hcm: dict[str, Any] = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "rest",
        "codec_type": "AUTO",
        "use_remote_address": True,
        "xff_num_trusted_hops": settings.xff_num_trusted_hops,
        "normalize_path": True,
        "merge_slashes": True,
        "stream_idle_timeout": _seconds(settings.upstream.stream_idle_timeout_s),
        "route_config": route_config(settings, table),
        "http_filters": http_filters(settings, table),
        "local_reply_config": local_reply_config(),
    }
    if settings.access_log:
        hcm["access_log"] = _access_log()
    return {
        "name": "rest",
        "address": _socket(settings.listen.host, settings.listen.port),
        "filter_chains": [
            {"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}
        ],
    }


def _endpoints(name: str, addresses: tuple[Address, ...]) -> dict[str, Any]:
    return {
        "cluster_name": name,
        "endpoints": [
            {"lb_endpoints": [{"endpoint": {"address": _socket(a.host, a.port)}} for a in addresses]}
        ],
    }


def orchestrator_cluster(settings: GatewaySettings) -> dict[str, Any]:
    """The orchestrator replicas over HTTP/2, actively checked with ``grpc.health.v1``."""
    up = settings.upstream
    return {
        "name": ORCHESTRATOR_CLUSTER,
        "type": "STRICT_DNS",
        "dns_lookup_family": "V4_PREFERRED",
        "connect_timeout": _seconds(up.connect_timeout_s),
        "lb_policy": "ROUND_ROBIN",
        "load_assignment": _endpoints(ORCHESTRATOR_CLUSTER, up.addresses),
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {
                    "http2_protocol_options": {"connection_keepalive": {"interval": "30s", "timeout": "5s"}}
                },
            }
        },
        "health_checks": [
            {
                "timeout": _seconds(up.health_timeout_s),
                "interval": _seconds(up.health_interval_s),
                "healthy_threshold": up.healthy_threshold,
                "unhealthy_threshold": up.unhealthy_threshold,
                "grpc_health_check": {"service_name": up.health_service},
            }
        ],
    }


def jwks_cluster(url: str) -> dict[str, Any]:
    """The cluster a remote JWKS is fetched through (TLS verified against the system CAs for https)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    tls = parts.scheme == "https"
    cluster: dict[str, Any] = {
        "name": JWKS_CLUSTER,
        "type": "STRICT_DNS",
        "dns_lookup_family": "V4_PREFERRED",
        "connect_timeout": "5s",
        "load_assignment": _endpoints(JWKS_CLUSTER, (Address(host, parts.port or (443 if tls else 80)),)),
    }
    if tls:
        cluster["transport_socket"] = {
            "name": "envoy.transport_sockets.tls",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
                "sni": host,
                "common_tls_context": {
                    "validation_context": {
                        "trusted_ca": {"filename": CA_BUNDLE},
                        "match_typed_subject_alt_names": [{"san_type": "DNS", "matcher": {"exact": host}}],
                    }
                },
            },
        }
    return cluster


def render(settings: GatewaySettings, table: RouteTable | None = None) -> dict[str, Any]:
    """The Envoy bootstrap for ``settings`` as a dict (ready for ``yaml.safe_dump``).

    Args:
        settings: validated settings (:func:`gateway.config.load_settings`).
        table: the REST table; ``None`` reads the committed descriptor set.

    Raises:
        InvalidInput: the settings name no usable JWT key source.
    """
    table = table or load_routes()
    clusters = [orchestrator_cluster(settings)]
    if settings.jwt.source == "url":
        clusters.append(jwks_cluster(settings.jwt.jwks_url or ""))
    return {
        "node": {"id": "ideamine-gateway", "cluster": "ideamine-gateway"},
        "admin": {"address": _socket(settings.admin.host, settings.admin.port)},
        "static_resources": {"listeners": [listener(settings, table)], "clusters": clusters},
        "layered_runtime": {"layers": [{"name": "static", "static_layer": {}}]},
    }


def render_yaml(settings: GatewaySettings, table: RouteTable | None = None) -> str:
    """:func:`render` as YAML text, with a header naming its provider (never edit it by hand)."""
    header = (
        "# Envoy bootstrap of the IdeaMine gateway, rendered by `ideamine envoy-config` from\n"
        f"# gateway/ settings and the proto descriptor set (JWT provider {JWT_PROVIDER!r}). Do not edit.\n"
    )
    return header + yaml.safe_dump(render(settings, table), sort_keys=False, width=120)
