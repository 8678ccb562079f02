"""Policies every workload in k8s/ follows: resources, probes, hardening, PDBs, Services, HPAs.

These are the rules a reviewer would otherwise check by eye on every change: each holds
for every container or object of a kind, so a new manifest is covered without a new test.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.manifests import (
    WORKLOADS,
    Manifest,
    containers,
    of_kind,
    pod_owners,
    pod_spec,
    pod_template,
    quantity,
    selector_matches,
)

CONTAINERS = [(m, c) for m in pod_owners() for c in containers(m)]
CONTAINER_IDS = [f"{m.id}/{c['name']}" for m, c in CONTAINERS]


def effective(m: Manifest, c: dict[str, Any], key: str) -> Any:
    """A security setting as the kubelet applies it: the container's, else the pod's."""
    own = c.get("securityContext", {})
    return own[key] if key in own else pod_spec(m).get("securityContext", {}).get(key)


@pytest.mark.parametrize(("m", "c"), CONTAINERS, ids=CONTAINER_IDS)
def test_container_has_requests_and_limits(m: Manifest, c: dict[str, Any]) -> None:
    res = c.get("resources", {})
    for part in ("requests", "limits"):
        for name in ("cpu", "memory"):
            assert name in res.get(part, {}), f"{m.id}/{c['name']}: no {part}.{name}"
        for name in ("cpu", "memory"):
            assert quantity(res["requests"][name]) <= quantity(res["limits"][name]), f"{name} request > limit"


@pytest.mark.parametrize(("m", "c"), CONTAINERS, ids=CONTAINER_IDS)
def test_container_is_hardened(m: Manifest, c: dict[str, Any]) -> None:
    where = f"{m.id}/{c['name']}"
    assert effective(m, c, "runAsNonRoot") is True, f"{where}: runAsNonRoot"
    user = effective(m, c, "runAsUser")
    assert isinstance(user, int) and user > 0, (
        f"{where}: a numeric non-root runAsUser lets the kubelet verify it"
    )
    sc = c.get("securityContext", {})
    assert sc.get("readOnlyRootFilesystem") is True, f"{where}: readOnlyRootFilesystem"
    assert sc.get("allowPrivilegeEscalation") is False, f"{where}: allowPrivilegeEscalation"
    assert sc.get("capabilities", {}).get("drop") == ["ALL"], f"{where}: capabilities.drop [ALL]"
    assert not sc.get("capabilities", {}).get("add"), f"{where}: adds capabilities"
    assert sc.get("privileged") is not True
    assert (effective(m, c, "seccompProfile") or {}).get("type") == "RuntimeDefault", f"{where}: seccomp"


@pytest.mark.parametrize("m", pod_owners(), ids=lambda m: m.id)
def test_pods_do_not_mount_service_account_tokens(m: Manifest) -> None:
    """None of the services talks to the Kubernetes API, so none gets a token to leak."""
    assert pod_spec(m).get("automountServiceAccountToken") is False


@pytest.mark.parametrize("m", pod_owners(), ids=lambda m: m.id)
def test_writable_paths_are_volumes(m: Manifest) -> None:
    """With a read-only root filesystem, /tmp must be a volume for every Python service."""
    for c in containers(m):
        mounts = {v["mountPath"] for v in c.get("volumeMounts", [])}
        if c["image"].startswith("ideamine/"):
            assert "/tmp" in mounts, f"{m.id}/{c['name']}: no writable /tmp"
        names = {v["name"] for v in pod_spec(m).get("volumes", [])}
        names |= {t["metadata"]["name"] for t in m.doc["spec"].get("volumeClaimTemplates", [])}
        for v in c.get("volumeMounts", []):
            assert v["name"] in names, f"{m.id}: mount of unknown volume {v['name']}"


def _ports(c: dict[str, Any]) -> dict[str | int, int]:
    """A container's ports by name and by number → number."""
    out: dict[str | int, int] = {}
    for p in c.get("ports", []):
        out[p["containerPort"]] = p["containerPort"]
        if "name" in p:
            out[p["name"]] = p["containerPort"]
    return out


def _probe_port(probe: dict[str, Any]) -> str | int | None:
    for kind in ("grpc", "httpGet", "tcpSocket"):
        if kind in probe:
            port = probe[kind]["port"]
            assert isinstance(port, str | int)
            return port
    return None  # exec probes have no port


WORKLOAD_CONTAINERS = [(m, c) for m, c in CONTAINERS if m.kind in WORKLOADS]


@pytest.mark.parametrize(
    ("m", "c"), WORKLOAD_CONTAINERS, ids=[f"{m.id}/{c['name']}" for m, c in WORKLOAD_CONTAINERS]
)
def test_long_running_containers_have_liveness_and_readiness_probes(m: Manifest, c: dict[str, Any]) -> None:
    for kind in ("livenessProbe", "readinessProbe"):
        assert kind in c, f"{m.id}/{c['name']}: no {kind}"
    for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
        if kind in c:
            port = _probe_port(c[kind])
            assert port is None or port in _ports(c), f"{m.id}/{c['name']}: {kind} probes unknown port {port}"
    # a liveness probe stricter than readiness would restart pods that are merely busy
    live, ready = c["livenessProbe"], c["readinessProbe"]
    live_window = live.get("periodSeconds", 10) * live.get("failureThreshold", 3)
    ready_window = ready.get("periodSeconds", 10) * ready.get("failureThreshold", 3)
    assert live_window >= ready_window, f"{m.id}/{c['name']}: liveness gives up before readiness"


def _pod_labels(m: Manifest) -> dict[str, str]:
    labels = pod_template(m)["metadata"]["labels"]
    assert isinstance(labels, dict)
    return labels


@pytest.mark.parametrize("m", pod_owners(), ids=lambda m: m.id)
def test_selector_matches_its_own_pod_template(m: Manifest) -> None:
    if m.kind == "Job":
        return  # the Job controller generates its selector
    assert selector_matches(m.doc["spec"]["selector"]["matchLabels"], _pod_labels(m))


def test_every_deployment_has_a_pdb_selecting_its_pods() -> None:
    pdbs = of_kind("PodDisruptionBudget")
    for dep in of_kind("Deployment"):
        matching = [
            p for p in pdbs if selector_matches(p.doc["spec"]["selector"]["matchLabels"], _pod_labels(dep))
        ]
        assert len(matching) == 1, f"{dep.id}: {len(matching)} PodDisruptionBudgets select its pods"


@pytest.mark.parametrize("pdb", of_kind("PodDisruptionBudget"), ids=lambda m: m.id)
def test_every_pdb_selects_a_workload_and_allows_evictions(pdb: Manifest) -> None:
    selector = pdb.doc["spec"]["selector"]["matchLabels"]
    owners = [m for m in of_kind(*WORKLOADS) if selector_matches(selector, _pod_labels(m))]
    assert len(owners) == 1, f"{pdb.id} selects {len(owners)} workloads"
    spec = pdb.doc["spec"]
    if "minAvailable" in spec:  # a node drain must always be possible at the minimum scale
        replicas = owners[0].doc["spec"].get("replicas")
        hpa = [
            h
            for h in of_kind("HorizontalPodAutoscaler")
            if h.doc["spec"]["scaleTargetRef"]["name"] == owners[0].name
        ]
        floor = hpa[0].doc["spec"]["minReplicas"] if hpa else replicas
        assert isinstance(spec["minAvailable"], int) and spec["minAvailable"] < floor
    else:
        assert spec["maxUnavailable"] not in (0, "0%")


@pytest.mark.parametrize("svc", of_kind("Service"), ids=lambda m: m.id)
def test_service_selects_pods_and_targets_their_ports(svc: Manifest) -> None:
    selector = svc.doc["spec"]["selector"]
    owners = [m for m in of_kind(*WORKLOADS) if selector_matches(selector, _pod_labels(m))]
    assert len(owners) == 1, f"{svc.id} selects {len(owners)} workloads"
    ports: dict[str | int, int] = {}
    for c in containers(owners[0], init=False):
        ports.update(_ports(c))
    for p in svc.doc["spec"]["ports"]:
        target = p.get("targetPort", p["port"])
        assert target in ports, f"{svc.id}: targetPort {target} is not a port of {owners[0].id}"
        assert ports[target] == p["port"], (
            f"{svc.id}: port {p['port']} forwards to {ports[target]} (keep them equal)"
        )


@pytest.mark.parametrize("hpa", of_kind("HorizontalPodAutoscaler"), ids=lambda m: m.id)
def test_hpa_targets_a_deployment_without_fixed_replicas(hpa: Manifest) -> None:
    ref = hpa.doc["spec"]["scaleTargetRef"]
    dep = [m for m in of_kind("Deployment") if m.name == ref["name"]]
    assert ref["kind"] == "Deployment" and len(dep) == 1
    assert "replicas" not in dep[0].doc["spec"], (
        f"{dep[0].id}: spec.replicas would fight the HPA on every apply"
    )
    assert hpa.doc["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 60
    for c in containers(dep[0]):  # utilisation is relative to requests
        assert "requests" in c["resources"]


def _hpa(name: str) -> dict[str, Any]:
    (hpa,) = [m for m in of_kind("HorizontalPodAutoscaler") if m.name == name]
    return hpa.doc["spec"]  # type: ignore[no-any-return]


def _targets(spec: dict[str, Any]) -> dict[str, int]:
    return {
        m["resource"]["name"]: m["resource"]["target"]["averageUtilization"]
        for m in spec["metrics"]
        if m["type"] == "Resource" and m["resource"]["target"]["type"] == "Utilization"
    }


def test_agent_host_autoscaling() -> None:
    spec = _hpa("agent-host")
    assert (spec["minReplicas"], spec["maxReplicas"]) == (5, 100)
    assert _targets(spec) == {"cpu": 70, "memory": 80}
    assert spec["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 300


def test_gateway_autoscaling() -> None:
    spec = _hpa("gateway")
    assert (spec["minReplicas"], spec["maxReplicas"]) == (3, 20)
    assert _targets(spec) == {"cpu": 70}
