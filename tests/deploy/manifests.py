"""Load the deployment files once for the deploy tests, and the service settings they must match.

Kubernetes manifests are read from ``k8s/`` exactly as committed (no kustomize binary
here): every YAML document of every file, each with the file it came from. Pod specs
are found in Deployments, StatefulSets and Jobs alike.

:func:`service_settings` is the one place the ports and drain times of the services come
from: their own config modules (``orchestrator.config``, ``agent_host.config``,
``gateway.config``), so a changed default fails these tests instead of silently drifting
from the manifests.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
DOCKER = ROOT / "docker"
COMPOSE = ROOT / "docker-compose.yml"
NAMESPACE = "ideamine"
#: manifests under k8s/ that kustomization.yaml must not list, and why
NOT_APPLIED = {
    "config/secret.template.yaml": "placeholders only: re-applying must never overwrite the real Secret",
}
#: kinds whose pods run continuously (Jobs run to completion and need no probes)
WORKLOADS = ("Deployment", "StatefulSet")


@dataclass(frozen=True)
class Manifest:
    """One YAML document of a file under ``k8s/``."""

    path: Path
    doc: dict[str, Any]

    @property
    def rel(self) -> str:
        """The file, relative to ``k8s/``."""
        return self.path.relative_to(K8S).as_posix()

    @property
    def kind(self) -> str:
        return str(self.doc.get("kind", ""))

    @property
    def name(self) -> str:
        return str(self.doc.get("metadata", {}).get("name", ""))

    @property
    def id(self) -> str:
        """``kind/name`` for test ids and messages."""
        return f"{self.kind}/{self.name}"


def load_script(path: Path, name: str) -> ModuleType:
    """Import a standalone script (``scripts/``, ``docker/``: not packages) as module ``name``."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def manifest_files() -> list[Path]:
    """Every ``*.yaml`` under ``k8s/`` except the kustomization itself."""
    return sorted(p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml")


@cache
def _load(path: Path) -> tuple[dict[str, Any], ...]:
    return tuple(d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d)


def manifests(*, include_templates: bool = False) -> list[Manifest]:
    """Every document of every manifest (the Secret template only when asked)."""
    out: list[Manifest] = []
    for path in manifest_files():
        if not include_templates and path.relative_to(K8S).as_posix() in NOT_APPLIED:
            continue
        out.extend(Manifest(path, doc) for doc in _load(path))
    return out


def of_kind(*kinds: str) -> list[Manifest]:
    """The applied manifests of the given kinds."""
    return [m for m in manifests() if m.kind in kinds]


def one(kind: str, name: str) -> Manifest:
    """The applied manifest ``kind/name`` (fails the test when absent)."""
    found = [m for m in of_kind(kind) if m.name == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def kustomization() -> dict[str, Any]:
    data = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def pod_template(m: Manifest) -> dict[str, Any]:
    """The pod template of a Deployment, StatefulSet or Job."""
    template = m.doc["spec"]["template"]
    assert isinstance(template, dict)
    return template


def pod_spec(m: Manifest) -> dict[str, Any]:
    spec = pod_template(m)["spec"]
    assert isinstance(spec, dict)
    return spec


def pod_owners() -> list[Manifest]:
    """Every manifest that creates pods."""
    return of_kind("Deployment", "StatefulSet", "Job")


def containers(m: Manifest, *, init: bool = True) -> Iterator[dict[str, Any]]:
    """The containers (and init containers) of a pod owner."""
    spec = pod_spec(m)
    yield from spec.get("containers", [])
    if init:
        yield from spec.get("initContainers", [])


def container(m: Manifest, name: str) -> dict[str, Any]:
    found = [c for c in containers(m) if c["name"] == name]
    assert len(found) == 1, f"{m.id}: expected one container {name!r}"
    return found[0]


def selector_matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    """Whether a ``matchLabels``-style selector selects ``labels``."""
    return all(labels.get(k) == v for k, v in selector.items())


_QUANTITY = re.compile(r"^(?P<n>\d+(\.\d+)?)(?P<unit>m|Ki|Mi|Gi|Ti)?$")
_UNITS = {None: 1.0, "m": 0.001, "Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40}


def quantity(value: Any) -> float:
    """A Kubernetes quantity (``500m``, ``2``, ``512Mi``) as a number."""
    match = _QUANTITY.match(str(value))
    assert match, f"unsupported quantity {value!r}"
    return float(match.group("n")) * _UNITS[match.group("unit")]


def flag(args: list[str], name: str) -> str:
    """The value after ``name`` in an argument list."""
    assert name in args, f"{name} missing from {args}"
    return args[args.index(name) + 1]


def port_of(address: str) -> int:
    """The port of ``host:port``."""
    return int(address.rpartition(":")[2])


@dataclass(frozen=True)
class ServiceSettings:
    """Ports and timings the manifests must agree with (see :func:`service_settings`)."""

    orchestrator_port: int
    orchestrator_metrics_port: int
    orchestrator_grace_seconds: float
    agent_host_port: int
    agent_host_metrics_port: int
    agent_host_grace_seconds: float
    gateway_port: int
    gateway_admin_port: int


def _default(cls: type[Any], name: str) -> Any:
    """The default of a dataclass field (the value a service runs with unless told otherwise)."""
    return cls.__dataclass_fields__[name].default


@cache
def service_settings() -> ServiceSettings:
    """The services' defaults, read from their config modules."""
    from agent_host import config as host
    from gateway import config as gateway
    from orchestrator import config as orch

    defaults = gateway.GatewaySettings()
    return ServiceSettings(
        orchestrator_port=port_of(orch.DEFAULT_LISTEN),
        orchestrator_metrics_port=orch.DEFAULT_METRICS_PORT,
        orchestrator_grace_seconds=_default(orch.OrchestratorConfig, "grace_seconds"),
        agent_host_port=port_of(host.DEFAULT_LISTEN),
        agent_host_metrics_port=host.DEFAULT_METRICS_PORT,
        agent_host_grace_seconds=_default(host.HostConfig, "grace_seconds"),
        gateway_port=defaults.listen.port,
        gateway_admin_port=defaults.admin.port,
    )
