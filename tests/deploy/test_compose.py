"""docker-compose.yml runs the same images, commands and ports as k8s/, on one laptop."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.deploy.dockerfile_lint import parse
from tests.deploy.manifests import COMPOSE, DOCKER, ROOT, container, flag, one, service_settings

#: compose service -> the Kubernetes workload and container it mirrors
MIRRORS = {
    "orchestrator": ("Deployment", "orchestrator", "orchestrator"),
    "agent-host-1": ("Deployment", "agent-host", "agent-host"),
    "agent-host-2": ("Deployment", "agent-host", "agent-host"),
    "gateway": ("Deployment", "gateway", "gateway"),
    "migrate": ("Job", "ideamine-migrate", "migrate"),
}
#: flags whose values differ between a pod and a compose container (per-replica or per-cluster)
PER_ENVIRONMENT = {"--advertise", "--database-url"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services = compose["services"]
    assert isinstance(services, dict)
    return services


def test_the_laptop_set(compose: dict[str, Any]) -> None:
    assert set(_services(compose)) == {
        "postgres",
        "redis",
        "migrate",
        "orchestrator",
        "agent-host-1",
        "agent-host-2",
        "gateway",
    }


@pytest.mark.parametrize("name", MIRRORS)
def test_service_mirrors_its_kubernetes_workload(compose: dict[str, Any], name: str) -> None:
    svc = _services(compose)[name]
    kind, workload, cname = MIRRORS[name]
    c = container(one(kind, workload), cname)
    assert svc["image"] == c["image"], "the same image and tag"
    dockerfile = ROOT / svc["build"]["dockerfile"]
    assert svc["build"]["context"] == "." and dockerfile.parent == DOCKER and dockerfile.is_file()
    entrypoint = parse(dockerfile.read_text(encoding="utf-8"))[-1].last("ENTRYPOINT")
    assert entrypoint is not None and entrypoint.exec_form() == c["command"]
    ours, theirs = list(svc["command"]), list(c["args"])
    for name_ in PER_ENVIRONMENT:
        for args in (ours, theirs):
            if name_ in args:
                i = args.index(name_)
                del args[i : i + 2]
    assert ours == theirs, f"{name}: compose runs {ours}, Kubernetes {theirs}"


@pytest.mark.parametrize("name", [n for n in MIRRORS if n != "postgres"])
def test_app_containers_are_hardened(compose: dict[str, Any], name: str) -> None:
    svc = _services(compose)[name]
    assert svc["read_only"] is True and svc["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in svc["security_opt"]
    assert svc["user"] == "10001:10001" and "/tmp" in svc["tmpfs"]


def test_agent_hosts_advertise_their_own_names(compose: dict[str, Any]) -> None:
    port = service_settings().agent_host_port
    for name in ("agent-host-1", "agent-host-2"):
        assert flag(_services(compose)[name]["command"], "--advertise") == f"{name}:{port}"


def test_start_order(compose: dict[str, Any]) -> None:
    s = _services(compose)
    assert s["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert s["orchestrator"]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert s["orchestrator"]["depends_on"]["redis"] == {"condition": "service_healthy"}
    for name in ("agent-host-1", "agent-host-2", "gateway"):
        assert s[name]["depends_on"]["orchestrator"] == {"condition": "service_healthy"}


def test_redis_persists_and_never_evicts(compose: dict[str, Any]) -> None:
    cmd = _services(compose)["redis"]["command"]
    assert flag(cmd, "--appendonly") == "yes" and flag(cmd, "--maxmemory-policy") == "noeviction"


def test_urls_use_the_compose_service_names(compose: dict[str, Any]) -> None:
    env = _services(compose)["orchestrator"]["environment"]
    assert re.fullmatch(
        r"postgresql://ideamine:\$\{POSTGRES_PASSWORD:-[^}]+\}@postgres:5432/ideamine",
        env["IDEAMINE_DATABASE_URL"],
    )
    assert re.fullmatch(r"redis://:\$\{REDIS_PASSWORD:-[^}]+\}@redis:6379/0", env["IDEAMINE_REDIS_URL"])
    migrate_url = flag(_services(compose)["migrate"]["command"], "--database-url")
    assert migrate_url == env["IDEAMINE_DATABASE_URL"]
    gateway = _services(compose)["gateway"]
    port = service_settings().orchestrator_port
    assert gateway["environment"]["IDEAMINE_ORCHESTRATOR_ADDR"] == f"orchestrator:{port}"
    assert gateway["environment"]["IDEAMINE_JWT_HS256_SECRET"] == env["IDEAMINE_JWT_HS256_SECRET"]


def test_gateway_mounts_a_settings_file_that_exists(compose: dict[str, Any]) -> None:
    gateway = _services(compose)["gateway"]
    target = flag(gateway["command"], "--settings")
    (mount,) = [v for v in gateway["volumes"] if v.split(":")[1] == target]
    source = ROOT / mount.split(":")[0]
    if not source.parent.is_dir():
        pytest.skip("gateway/settings does not exist yet (the gateway is being written)")
    assert source.is_file(), f"{source} does not exist"


def test_third_party_images_match_kubernetes(compose: dict[str, Any]) -> None:
    s = _services(compose)
    assert s["postgres"]["image"] == container(one("StatefulSet", "postgres"), "postgres")["image"]
    assert s["redis"]["image"] == container(one("StatefulSet", "redis"), "redis")["image"]
