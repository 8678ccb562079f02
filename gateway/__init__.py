"""The REST gateway: an Envoy config rendered from the proto descriptor set, and the command that runs it.

- :mod:`gateway.config` — settings file + ``IDEAMINE_*`` environment → :class:`GatewaySettings`;
- :mod:`gateway.routes` — the REST table read from the ``google.api.http`` annotations;
- :mod:`gateway.filters` / :mod:`gateway.envoy` — the Envoy bootstrap (health check, rate limit,
  JWT, RBAC, gRPC-web, JSON transcoding, CORS, router; HTTP/2 upstream with gRPC health checks);
- :mod:`gateway.openapi` — ``docs/openapi.yaml`` from the same table;
- :mod:`gateway.serve` — render → ``envoy --mode validate`` → exec the bundled Envoy.
"""

from gateway.config import GatewaySettings, load_settings, settings_file
from gateway.envoy import render, render_yaml
from gateway.routes import Route, RouteTable, load_routes

__all__ = [
    "GatewaySettings",
    "Route",
    "RouteTable",
    "load_routes",
    "load_settings",
    "render",
    "render_yaml",
    "settings_file",
]
