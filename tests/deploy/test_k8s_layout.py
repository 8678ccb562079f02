"""The shape of k8s/: what kustomization.yaml applies, namespaces, images and the Secret template."""

from __future__ import annotations

import re
import tomllib

import pytest

from tests.deploy.manifests import (
    K8S,
    NAMESPACE,
    NOT_APPLIED,
    ROOT,
    Manifest,
    containers,
    kustomization,
    manifest_files,
    manifests,
    of_kind,
    pod_owners,
)

#: our own images; everything else is a pinned third-party image
APP_IMAGES = ("ideamine/orchestrator", "ideamine/agent-host", "ideamine/gateway", "ideamine/migrate")
#: ``repository:tag`` with an explicit, non-floating tag (or a digest)
_PINNED = re.compile(r"^[a-z0-9./-]+(:(?P<tag>[A-Za-z0-9._-]+))?(@sha256:[0-9a-f]{64})?$")
_FLOATING_TAGS = {"latest", "stable", "main", "master", "edge", "nightly"}
#: what a placeholder in the Secret template looks like
PLACEHOLDER = re.compile(r"^<REPLACE_WITH_[A-Z0-9_]+>$")


def _version() -> str:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return str(data["project"]["version"])


def test_kustomization_lists_every_manifest_and_nothing_else() -> None:
    listed = kustomization()["resources"]
    on_disk = {p.relative_to(K8S).as_posix() for p in manifest_files()}
    assert len(listed) == len(set(listed)), "a resource is listed twice"
    missing_files = sorted(set(listed) - on_disk)
    unlisted = sorted(on_disk - set(listed) - set(NOT_APPLIED))
    assert not missing_files, f"kustomization.yaml lists files that do not exist: {missing_files}"
    assert not unlisted, (
        f"manifests not in kustomization.yaml (add them, or to NOT_APPLIED with a reason): {unlisted}"
    )
    wrongly_applied = sorted(set(listed) & set(NOT_APPLIED))
    assert not wrongly_applied, f"must not be applied: {[(f, NOT_APPLIED[f]) for f in wrongly_applied]}"


def test_kustomization_sets_the_namespace() -> None:
    assert kustomization()["namespace"] == NAMESPACE


@pytest.mark.parametrize("m", manifests(include_templates=True), ids=lambda m: f"{m.rel}:{m.id}")
def test_every_object_is_in_the_namespace(m: Manifest) -> None:
    if m.kind == "Namespace":
        assert m.name == NAMESPACE
    else:
        assert m.doc["metadata"].get("namespace") == NAMESPACE, (
            f"{m.id} in {m.rel} has no namespace {NAMESPACE}"
        )


def test_namespace_enforces_the_restricted_pod_security_standard() -> None:
    (ns,) = of_kind("Namespace")
    assert ns.doc["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def _images() -> list[tuple[str, str]]:
    return [(f"{m.id}/{c['name']}", c["image"]) for m in pod_owners() for c in containers(m)]


@pytest.mark.parametrize(("where", "image"), _images())
def test_images_are_pinned(where: str, image: str) -> None:
    match = _PINNED.match(image)
    assert match, f"{where}: malformed image reference {image!r}"
    tag = match.group("tag")
    assert tag or "@sha256:" in image, f"{where}: {image} has no tag (means :latest)"
    assert tag not in _FLOATING_TAGS, f"{where}: {image} uses a floating tag"
    if image.startswith(APP_IMAGES):
        assert tag == _version(), f"{where}: {image} should be tagged with the pyproject version {_version()}"
    else:
        assert re.search(r"\d+\.\d+", tag or ""), f"{where}: {image} is not pinned to a version"


def test_every_app_image_is_deployed() -> None:
    deployed = {image.split(":")[0] for _, image in _images()}
    assert set(APP_IMAGES) <= deployed


def test_secret_template_has_placeholders_only() -> None:
    secrets = [m for m in manifests(include_templates=True) if m.kind == "Secret"]
    assert [m.rel for m in secrets] == ["config/secret.template.yaml"], "Secrets belong in the template only"
    doc = secrets[0].doc
    assert "data" not in doc, "use stringData with placeholders, never base64 data"
    values = doc["stringData"]
    assert values
    real = {k: v for k, v in values.items() if not PLACEHOLDER.match(v)}
    assert not real, f"non-placeholder values in the Secret template: {sorted(real)}"


def test_every_secret_key_referenced_exists_in_the_template() -> None:
    (template,) = [m for m in manifests(include_templates=True) if m.kind == "Secret"]
    keys = set(template.doc["stringData"])
    referenced = set()
    for m in pod_owners():
        for c in containers(m):
            for env in c.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == template.name, f"{m.id}: unknown Secret {ref['name']}"
                    referenced.add(ref["key"])
    assert referenced <= keys, f"keys used but missing from the template: {sorted(referenced - keys)}"
    assert keys <= referenced, f"template keys nobody uses: {sorted(keys - referenced)}"


def test_no_secret_values_in_the_configmap() -> None:
    config = next(m for m in of_kind("ConfigMap") if m.name == "ideamine-config")
    for key in config.doc["data"]:
        assert not re.search(r"PASSWORD|SECRET|TOKEN|API_KEY", key), f"{key} belongs in the Secret"
