"""Every manifest under k8s/ validates against the Kubernetes 1.33 OpenAPI schema, strictly.

Strict mode rejects unknown fields, so a misspelt key (``averageUtilisation``) fails here
instead of being silently dropped by the API server. Custom resources have no bundled
schema; the kinds we accept without one are listed explicitly, and a manifest of any
other unknown kind fails.
"""

from __future__ import annotations

import kubernetes_validate
import pytest

from tests.deploy.manifests import Manifest, manifests

#: the Kubernetes version the manifests target (kubernetes-validate bundles 1.25-1.37)
KUBERNETES_VERSION = "1.33"
#: custom resources kubernetes-validate cannot check (no schema is bundled for CRDs)
CRD_KINDS = frozenset({"Certificate", "ClusterIssuer", "ServiceMonitor", "PodMonitor", "PrometheusRule"})

ALL = manifests(include_templates=True)


@pytest.mark.parametrize("m", ALL, ids=[f"{m.rel}:{m.id}" for m in ALL])
def test_manifest_is_valid(m: Manifest) -> None:
    if m.kind in CRD_KINDS:
        pytest.skip(f"{m.kind} is a custom resource: kubernetes-validate has no schema for it")
    try:
        kubernetes_validate.validate(m.doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        pytest.fail(f"{m.rel} {m.id}: {exc.message}")
    except kubernetes_validate.SchemaNotFoundError:
        pytest.fail(
            f"{m.rel} {m.id}: no schema for {m.doc.get('apiVersion')}/{m.kind} in {KUBERNETES_VERSION}"
        )


def test_validation_rejects_a_misspelt_field() -> None:
    """The validator is strict: an unknown field in a real manifest is an error."""
    deployment = next(m for m in ALL if m.kind == "Deployment")
    broken = {**deployment.doc, "spec": {**deployment.doc["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError, match="replica"):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_every_file_has_a_manifest() -> None:
    assert ALL, "no manifests found under k8s/"
    assert all(m.kind and m.name for m in ALL), [m.rel for m in ALL if not (m.kind and m.name)]
