"""The manifests agree with the services: commands, flags, ports, timings and shared settings.

Ports and drain timings come from the services' config modules through
:func:`tests.deploy.manifests.service_settings`; command lines are parsed by the real
``ideamine`` argument parser, so a renamed flag fails here, not in a crash-looping pod.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from ideamine.rpc import LIVENESS_SERVICE
from tests.deploy.manifests import (
    ROOT,
    Manifest,
    container,
    flag,
    of_kind,
    one,
    pod_spec,
    pod_template,
    port_of,
    quantity,
    service_settings,
)

#: seconds the kubelet must leave beyond a service's own drain (closing connections, exit)
MARGIN = 5
_VAR = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")

SERVICES = {  # workload kind/name -> container name
    "Deployment/orchestrator": "orchestrator",
    "Deployment/agent-host": "agent-host",
    "Deployment/gateway": "gateway",
    "Job/ideamine-migrate": "migrate",
}


def _workload(ref: str) -> Manifest:
    kind, name = ref.split("/")
    return one(kind, name)


def _argv(c: dict[str, Any]) -> list[str]:
    """``command + args`` without the leading ``ideamine``, ``$(VAR)`` replaced by a sample."""
    argv = [*c["command"], *c.get("args", [])]
    assert argv[0] == "ideamine", f"{c['name']}: runs {argv[0]}, not the ideamine CLI"
    return [_VAR.sub("sample", a) for a in argv[1:]]


def _parse(argv: list[str]) -> tuple[argparse.Namespace | None, str]:
    from ideamine.cli.main import build_parser

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.suppress(SystemExit):
        return build_parser().parse_args(argv), ""
    return None, err.getvalue().strip().splitlines()[-1] if err.getvalue().strip() else "exit"


def _registered(argv: list[str]) -> str | None:
    """Why ``argv``'s command cannot be checked yet (None = it can)."""
    from ideamine.cli.main import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if argv[0] not in sub.choices:
        return f"`ideamine {argv[0]}` is not registered yet"
    if argv[0] == "serve":
        serve = sub.choices["serve"]
        services = next(a for a in serve._actions if isinstance(a, argparse._SubParsersAction))
        if argv[1] not in services.choices:
            return f"`ideamine serve {argv[1]}` is not registered yet"
    return None


@pytest.mark.parametrize("ref", SERVICES)
def test_command_line_parses_with_the_ideamine_cli(ref: str) -> None:
    argv = _argv(container(_workload(ref), SERVICES[ref]))
    if (why := _registered(argv)) is not None:
        pytest.skip(why)
    parsed, error = _parse(argv)
    assert parsed is not None, f"{ref}: `ideamine {' '.join(argv)}` is rejected: {error}"
    assert callable(getattr(parsed, "handler", None))


#: which grpc.health.v1 service each probe asks: readiness follows the dependencies (the
#: overall status ""), startup and liveness only that the process answers, so a PostgreSQL
#: or Redis outage takes replicas out of rotation without restarting them
PROBE_SERVICES = {"startupProbe": LIVENESS_SERVICE, "livenessProbe": LIVENESS_SERVICE, "readinessProbe": ""}


def _grpc_probe_ports(c: dict[str, Any]) -> set[int]:
    ports = set()
    for kind, service in PROBE_SERVICES.items():
        probe = c[kind]
        assert "grpc" in probe, f"{c['name']}: {kind} is not a native gRPC probe"
        assert probe["grpc"].get("service", "") == service, f"{c['name']}: {kind} must ask for {service!r}"
        ports.add(probe["grpc"]["port"])
    return ports


def _container_port(c: dict[str, Any], name: str) -> int:
    (port,) = [p["containerPort"] for p in c["ports"] if p["name"] == name]
    return int(port)


def _prestop_seconds(c: dict[str, Any]) -> int:
    return int(c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0))


def _metrics_consistent(m: Manifest, c: dict[str, Any], expected: int) -> None:
    annotations = pod_template(m)["metadata"]["annotations"]
    assert int(flag(c["args"], "--metrics-port")) == expected
    assert _container_port(c, "metrics") == expected
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == expected


def test_orchestrator_matches_its_settings() -> None:
    s = service_settings()
    m = one("Deployment", "orchestrator")
    c = container(m, "orchestrator")
    assert m.doc["spec"]["replicas"] == 2
    assert flag(c["args"], "--listen") == f"0.0.0.0:{s.orchestrator_port}"
    assert _container_port(c, "grpc") == s.orchestrator_port
    assert _grpc_probe_ports(c) == {s.orchestrator_port}
    _metrics_consistent(m, c, s.orchestrator_metrics_port)
    drain = _prestop_seconds(c) + s.orchestrator_grace_seconds + MARGIN
    assert pod_spec(m)["terminationGracePeriodSeconds"] >= drain


def test_agent_host_matches_its_settings() -> None:
    s = service_settings()
    m = one("Deployment", "agent-host")
    c = container(m, "agent-host")
    args = c["args"]
    assert flag(args, "--listen") == f"0.0.0.0:{s.agent_host_port}"
    assert port_of(flag(args, "--advertise")) == s.agent_host_port
    assert _container_port(c, "grpc") == s.agent_host_port
    assert _grpc_probe_ports(c) == {s.agent_host_port}
    _metrics_consistent(m, c, s.agent_host_metrics_port)
    grace = float(flag(args, "--grace-seconds")) if "--grace-seconds" in args else s.agent_host_grace_seconds
    assert pod_spec(m)["terminationGracePeriodSeconds"] >= grace + MARGIN


def _orchestrator_address() -> tuple[str, int]:
    svc = one("Service", "orchestrator")
    (port,) = [p["port"] for p in svc.doc["spec"]["ports"] if p["name"] == "grpc"]
    return svc.name, int(port)


def test_everyone_dials_the_orchestrator_service() -> None:
    name, port = _orchestrator_address()
    s = service_settings()
    assert port == s.orchestrator_port
    host = container(one("Deployment", "agent-host"), "agent-host")
    assert flag(host["args"], "--orchestrator") == f"{name}:{port}"
    assert one("ConfigMap", "ideamine-config").doc["data"]["IDEAMINE_ORCHESTRATOR_ADDR"] == f"{name}:{port}"


def test_orchestrator_service_is_headless_for_per_replica_balancing() -> None:
    assert one("Service", "orchestrator").doc["spec"]["clusterIP"] == "None"


def _production_settings() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "gateway" / "settings" / "production.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _gateway_ready() -> None:
    if not (ROOT / "gateway" / "settings" / "production.yaml").is_file():
        pytest.skip("gateway/settings/production.yaml does not exist yet (the gateway is being written)")


def test_gateway_matches_its_production_settings() -> None:
    _gateway_ready()
    settings = _production_settings()
    m = one("Deployment", "gateway")
    c = container(m, "gateway")
    listen = settings.get("listen", f"0.0.0.0:{service_settings().gateway_port}")
    assert _container_port(c, "http") == port_of(listen)
    assert c["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    # the upstream is the orchestrator Service, on its gRPC port
    name, port = _orchestrator_address()
    for address in settings["upstream"]["addresses"]:
        host, _, p = address.rpartition(":")
        assert host in (name, f"{name}.{m.doc['metadata']['namespace']}.svc.cluster.local") and int(p) == port
    # Envoy's worker threads get the CPU they are configured for
    if "concurrency" in settings:
        assert quantity(c["resources"]["limits"]["cpu"]) >= settings["concurrency"]


def test_gateway_pods_render_exactly_the_committed_configmap() -> None:
    """``serve gateway`` applies IDEAMINE_* variables; the pods get none, so they run the ConfigMap's render."""
    c = container(one("Deployment", "gateway"), "gateway")
    assert "envFrom" not in c
    assert not [e["name"] for e in c.get("env", []) if e["name"].startswith("IDEAMINE_")]
    settings_path = flag(c["args"], "--settings")
    (mount,) = [v for v in c["volumeMounts"] if settings_path.startswith(v["mountPath"] + "/")]
    (volume,) = [v for v in pod_spec(one("Deployment", "gateway"))["volumes"] if v["name"] == mount["name"]]
    configmap = one("ConfigMap", volume["configMap"]["name"])
    assert settings_path.removeprefix(mount["mountPath"] + "/") in configmap.doc["data"]


def test_jwt_settings_agree_between_orchestrator_and_gateway() -> None:
    _gateway_ready()
    jwt = _production_settings()["jwt"]
    data = one("ConfigMap", "ideamine-config").doc["data"]
    assert data["IDEAMINE_JWT_ISSUER"] == jwt["issuer"]
    assert data["IDEAMINE_JWT_AUDIENCE"].split(",") == jwt["audiences"]
    assert data["IDEAMINE_JWT_JWKS_URL"] == jwt["jwks_url"]


def _env(c: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in c.get("env", [])}


def _users_of(var: str) -> list[tuple[str, str]]:
    out = []
    for ref, name in SERVICES.items():
        value = _env(container(_workload(ref), name)).get(var)
        if value is not None:
            out.append((ref, value))
    return out


def test_database_url_points_at_the_postgres_service() -> None:
    users = _users_of("IDEAMINE_DATABASE_URL")
    assert {ref for ref, _ in users} == {
        "Deployment/orchestrator",
        "Deployment/agent-host",
        "Job/ideamine-migrate",
    }
    assert len({v for _, v in users}) == 1, f"the services disagree on the database URL: {users}"
    url = urlsplit(users[0][1])
    pg = _env(container(one("StatefulSet", "postgres"), "postgres"))
    svc = one("Service", "postgres").doc["spec"]
    assert url.scheme == "postgresql" and url.hostname == "postgres" and url.port == svc["ports"][0]["port"]
    assert url.username == pg["POSTGRES_USER"] and url.path == f"/{pg['POSTGRES_DB']}"
    assert url.password == "$(POSTGRES_PASSWORD)"


def test_redis_url_points_at_the_redis_service() -> None:
    users = _users_of("IDEAMINE_REDIS_URL")
    assert {ref for ref, _ in users} == {"Deployment/orchestrator", "Deployment/agent-host"}
    assert len({v for _, v in users}) == 1
    url = urlsplit(users[0][1])
    assert url.hostname == "redis" and url.port == one("Service", "redis").doc["spec"]["ports"][0]["port"]
    assert url.password == "$(REDIS_PASSWORD)"


@pytest.mark.parametrize("m", of_kind("Deployment", "StatefulSet", "Job"), ids=lambda m: m.id)
def test_variable_references_are_defined_before_use(m: Manifest) -> None:
    """The kubelet expands ``$(VAR)`` only from variables defined earlier; otherwise it stays literal."""
    configmaps = {cm.name: set(cm.doc["data"]) for cm in of_kind("ConfigMap")}
    for c in pod_spec(m)["containers"]:
        defined: set[str] = set()
        for source in c.get("envFrom", []):
            defined |= configmaps[source["configMapRef"]["name"]]
        for e in c.get("env", []):
            for var in _VAR.findall(e.get("value", "")):
                assert var in defined, f"{m.id}/{c['name']}: {e['name']} uses $({var}) before it is defined"
            defined.add(e["name"])
        for arg in [*c.get("command", []), *c.get("args", [])]:
            for var in _VAR.findall(arg):
                assert var in defined, f"{m.id}/{c['name']}: argument uses undefined $({var})"


def test_postgres_keeps_its_data_on_a_20gi_volume() -> None:
    m = one("StatefulSet", "postgres")
    (claim,) = m.doc["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    c = container(m, "postgres")
    data_mount = next(v["mountPath"] for v in c["volumeMounts"] if v["name"] == claim["metadata"]["name"])
    assert _env(c)["PGDATA"].startswith(data_mount + "/")
    assert "synchronous_commit=on" in c["args"]


def test_redis_persists_with_aof_and_never_evicts() -> None:
    conf = one("ConfigMap", "redis-config").doc["data"]["redis.conf"]
    settings = dict(
        line.split(None, 1) for line in conf.splitlines() if line.strip() and not line.startswith("#")
    )
    assert settings["appendonly"] == "yes"
    assert settings["maxmemory-policy"] == "noeviction"
    m = one("StatefulSet", "redis")
    (claim,) = m.doc["spec"]["volumeClaimTemplates"]
    mounts = {v["name"]: v["mountPath"] for v in container(m, "redis")["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == settings["dir"]
    limit = quantity(container(m, "redis")["resources"]["limits"]["memory"])
    assert quantity(settings["maxmemory"].replace("gb", "Gi").replace("mb", "Mi")) < limit


def test_migration_job_runs_ideamine_migrate() -> None:
    job = one("Job", "ideamine-migrate")
    c = container(job, "migrate")
    assert c["command"] == ["ideamine", "migrate"]
    assert c["args"] == ["--database-url", "$(IDEAMINE_DATABASE_URL)"]
    assert pod_spec(job)["restartPolicy"] in ("OnFailure", "Never")
    assert job.doc["spec"]["backoffLimit"] > 0


def test_traces_go_to_the_jaeger_service() -> None:
    data = one("ConfigMap", "ideamine-config").doc["data"]
    endpoint = urlsplit(data["OTEL_EXPORTER_OTLP_ENDPOINT"])
    ports = {p["name"]: p["port"] for p in one("Service", "jaeger").doc["spec"]["ports"]}
    assert endpoint.hostname == "jaeger"
    assert (
        endpoint.port == ports["otlp-grpc" if data["OTEL_EXPORTER_OTLP_PROTOCOL"] == "grpc" else "otlp-http"]
    )
    try:
        from ideamine.tracing import settings_from_environ
    except ImportError:
        pytest.skip("ideamine.tracing is not importable yet")
    parsed = settings_from_environ(data, service_name="ideamine-orchestrator", embedded=False)
    assert (parsed.exporter, parsed.protocol) == ("otlp", "grpc")
