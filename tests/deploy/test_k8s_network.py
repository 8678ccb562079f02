"""NetworkPolicies allow exactly the intended flows: evaluated, not just read.

Every workload's pod (with its real labels) and a few outside endpoints (the ingress
controller, Prometheus, kube-dns, the internet, a cloud metadata address) are put in a
matrix; each (source, destination, port) is decided with the NetworkPolicy semantics
(a pod selected by a policy of a direction is isolated in that direction, and then only
a rule matching the peer and the port admits traffic). The allowed set must equal
:data:`EXPECTED` exactly, so both a missing rule and an extra opening fail.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from functools import cache
from itertools import product
from typing import Any

import pytest

from tests.deploy.manifests import NAMESPACE, WORKLOADS, of_kind, pod_owners, pod_template

NS_LABEL = "kubernetes.io/metadata.name"


@dataclass(frozen=True)
class Endpoint:
    """A pod (namespace + labels) or an address outside the cluster (namespace None)."""

    name: str
    namespace: str | None
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    ip: str = "10.244.0.10"


def _pods() -> list[Endpoint]:
    out = []
    for i, m in enumerate(pod_owners()):
        labels = pod_template(m)["metadata"]["labels"]
        out.append(Endpoint(labels["app.kubernetes.io/name"], NAMESPACE, labels, f"10.244.1.{i + 10}"))
    return out


PODS = _pods()
OUTSIDE = [
    Endpoint("ingress-nginx", "ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"}, "10.244.9.1"),
    Endpoint("prometheus", "monitoring", {"app.kubernetes.io/name": "prometheus"}, "10.244.9.2"),
    Endpoint("kube-dns", "kube-system", {"k8s-app": "kube-dns"}, "10.96.0.10"),
    Endpoint("other-app", "default", {"app": "other"}, "10.244.9.3"),
    Endpoint("internet", None, {}, "203.0.113.10"),
    Endpoint("cloud-metadata", None, {}, "169.254.169.254"),
]
ENDPOINTS = {e.name: e for e in [*PODS, *OUTSIDE]}


def _ports() -> set[tuple[str, int]]:
    ports = {("TCP", 443), ("TCP", 53), ("UDP", 53)}
    for m in pod_owners():
        for c in pod_template(m)["spec"]["containers"]:
            ports |= {(p.get("protocol", "TCP"), p["containerPort"]) for p in c.get("ports", [])}
    return ports


PORTS = _ports()
APP = ("orchestrator", "agent-host", "gateway", "postgres", "redis", "jaeger", "migrate")

#: every allowed (source, destination, protocol, port); everything else must be denied
EXPECTED: set[tuple[str, str, str, int]] = {
    ("ingress-nginx", "gateway", "TCP", 8080),
    ("gateway", "orchestrator", "TCP", 50051),
    ("agent-host", "orchestrator", "TCP", 50051),
    ("orchestrator", "agent-host", "TCP", 50061),
    *((src, "postgres", "TCP", 5432) for src in ("orchestrator", "agent-host", "migrate")),
    *((src, "redis", "TCP", 6379) for src in ("orchestrator", "agent-host")),
    *((src, "jaeger", "TCP", p) for src in ("orchestrator", "agent-host") for p in (4317, 4318)),
    ("prometheus", "orchestrator", "TCP", 9464),
    ("prometheus", "agent-host", "TCP", 9465),
    *((src, "internet", "TCP", 443) for src in ("orchestrator", "agent-host", "gateway")),
    *((src, "kube-dns", proto, 53) for src in APP for proto in ("TCP", "UDP")),
}


def _namespace_labels(ns: str | None) -> dict[str, str]:
    return {NS_LABEL: ns} if ns else {}


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, f"only matchLabels is modelled: {selector}"
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def _peer_matches(peer: dict[str, Any], ep: Endpoint) -> bool:
    if "ipBlock" in peer:
        block = peer["ipBlock"]
        ip = ipaddress.ip_address(ep.ip)
        return ip in ipaddress.ip_network(block["cidr"]) and not any(
            ip in ipaddress.ip_network(e) for e in block.get("except", [])
        )
    if ep.namespace is None:
        return False
    if "namespaceSelector" in peer:
        if not _selects(peer["namespaceSelector"], _namespace_labels(ep.namespace)):
            return False
    elif ep.namespace != NAMESPACE:
        return False
    return "podSelector" not in peer or _selects(peer["podSelector"], ep.labels)


def _port_matches(rule: dict[str, Any], proto: str, port: int) -> bool:
    ports = rule.get("ports")
    return not ports or any(p.get("protocol", "TCP") == proto and p["port"] == port for p in ports)


def _admits(
    policies: list[dict[str, Any]], direction: str, owner: Endpoint, peer: Endpoint, proto: str, port: int
) -> bool:
    """Whether ``policies`` (specs) on ``owner`` admit ``peer`` in ``direction`` (Ingress or Egress)."""
    if owner.namespace != NAMESPACE:
        return True  # only our namespace's policies are modelled; others are unrestricted
    key, peers = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    isolated = False
    for spec in policies:
        if direction not in spec["policyTypes"] or not _selects(spec["podSelector"], owner.labels):
            continue
        isolated = True
        for rule in spec.get(key, []):
            # a rule without peers admits every peer
            if _port_matches(rule, proto, port) and (
                not rule.get(peers) or any(_peer_matches(p, peer) for p in rule[peers])
            ):
                return True
    return not isolated


def evaluate(policies: list[dict[str, Any]]) -> frozenset[tuple[str, str, str, int]]:
    """Every (source, destination, protocol, port) the policy specs allow."""
    out = set()
    for src, dst, (proto, port) in product(ENDPOINTS.values(), ENDPOINTS.values(), PORTS):
        if src == dst:
            continue
        if _admits(policies, "Egress", src, dst, proto, port) and _admits(
            policies, "Ingress", dst, src, proto, port
        ):
            out.add((src.name, dst.name, proto, port))
    # flows between two outside endpoints are not ours to police
    return frozenset(
        f for f in out if ENDPOINTS[f[0]].namespace == NAMESPACE or ENDPOINTS[f[1]].namespace == NAMESPACE
    )


@cache
def allowed() -> frozenset[tuple[str, str, str, int]]:
    """The flows the committed policies allow (evaluated once per session)."""
    return evaluate([p.doc["spec"] for p in of_kind("NetworkPolicy")])


def test_every_workload_is_in_the_matrix() -> None:
    names = {e.name for e in PODS}
    assert names == set(APP), f"new workload? add its flows to EXPECTED: {sorted(names ^ set(APP))}"
    assert len(PODS) == len(of_kind(*WORKLOADS, "Job"))


def test_exactly_the_intended_flows_are_allowed() -> None:
    got = allowed()
    missing, extra = sorted(EXPECTED - got), sorted(got - EXPECTED)
    assert not missing and not extra, f"blocked but needed: {missing}\nallowed but not intended: {extra}"


def test_default_deny_covers_every_pod_in_both_directions() -> None:
    (deny,) = [p for p in of_kind("NetworkPolicy") if p.name == "default-deny-all"]
    spec = deny.doc["spec"]
    assert spec["podSelector"] == {} and set(spec["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in spec and "egress" not in spec


def test_only_the_gateway_reaches_the_orchestrator_api_from_outside_the_backend() -> None:
    callers = {src for src, dst, _, port in allowed() if dst == "orchestrator" and port == 50051}
    assert callers == {"gateway", "agent-host"}, callers
    assert not {f for f in allowed() if f[0] == "ingress-nginx" and f[1] != "gateway"}


def test_only_the_services_reach_postgres_and_redis() -> None:
    assert {s for s, d, _, _ in allowed() if d == "postgres"} == {"orchestrator", "agent-host", "migrate"}
    assert {s for s, d, _, _ in allowed() if d == "redis"} == {"orchestrator", "agent-host"}


def test_nothing_reaches_the_cloud_metadata_endpoint() -> None:
    assert not [f for f in allowed() if f[1] == "cloud-metadata"]


@pytest.mark.parametrize(
    ("src", "dst", "port"),
    [
        ("ingress-nginx", "orchestrator", 50051),
        ("internet", "gateway", 8080),
        ("postgres", "internet", 443),
        ("gateway", "postgres", 5432),
        ("other-app", "redis", 6379),
        ("redis", "postgres", 5432),
    ],
)
def test_examples_of_denied_flows(src: str, dst: str, port: int) -> None:
    assert (src, dst, "TCP", port) not in allowed()


def test_the_model_sees_an_opening() -> None:
    """Sanity of the evaluator: a policy admitting everything into postgres shows up as new flows."""
    wide = {
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "postgres"}},
        "policyTypes": ["Ingress"],
        "ingress": [{}],
    }
    opened = evaluate([*(p.doc["spec"] for p in of_kind("NetworkPolicy")), wide]) - allowed()
    assert ("ingress-nginx", "postgres", "TCP", 5432) in opened  # other namespaces' egress is not ours
    assert ("orchestrator", "postgres", "TCP", 5432) not in opened  # was allowed already
    assert ("gateway", "postgres", "TCP", 5432) not in opened  # the gateway's own egress still denies it
