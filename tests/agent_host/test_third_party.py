"""A third-party agent package, installed like any plugin, works with no change to IdeaMine.

The example (``examples/third_party_agent``) is built and installed with pip into a
temporary ``--target`` directory, not into the shared virtualenv: other test processes
(and other engineers' test runs) load every installed ``ideamine.agents`` entry point, so
an install there would add the legal-review task to their runs. The processes under test
get the directory on ``PYTHONPATH`` — for Python's entry-point discovery that is the same
as an installed distribution. Nothing needs uninstalling; the directory goes with tmp.
pip builds the wheel in an isolated build environment (the example's own build
requirements), as a user's ``pip install`` would — a fresh virtualenv's setuptools is too
old for the example's ``pyproject.toml``. The build works on a copy, so the example's
directory gets no ``build/`` or ``*.egg-info``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from ideamine._proto.ideamine.v1 import agent_host_pb2, agent_host_pb2_grpc
from ideamine.embedded import DB_FILE
from ideamine.ids import new_id
from ideamine.store.sqlite import open_sqlite
from tests.agent_host.procs import ROOT, free_port, serve, wait_serving
from tests.agent_host.support import fresh_database

EXAMPLE = ROOT / "examples" / "third_party_agent"
SCHEMA = json.loads((EXAMPLE / "src/ideamine_legal_review/schemas/legal-review.json").read_text())


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment of a process that has the example plugin installed."""
    work = tmp_path_factory.mktemp("third-party")
    source = work / "src"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = work / "site"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(source)]
    built = subprocess.run(pip, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    yield {"PYTHONPATH": os.pathsep.join([str(target), str(ROOT)])}


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ideamine.cli.main", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_plugins_list_shows_the_installed_distribution(plugin_path: dict[str, str]) -> None:
    listed = _cli(plugin_path, "plugins", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {r["agent"]: r for r in json.loads(listed.stdout)}
    assert rows["legal-review"] == {
        "agent": "legal-review",
        "phase": "critique",
        "version": "1.0.0",
        "tasks": ["legal-review"],
        "plugin": "legal-review",
        "distribution": "ideamine-legal-review 0.1.0",
        "builtin": False,
    }
    assert rows["critique"]["distribution"].startswith("ideamine ") and rows["critique"]["builtin"]
    table = _cli(plugin_path, "plugins", "list")
    [line] = [row for row in table.stdout.splitlines() if row.startswith("legal-review ")]
    assert line.split()[:4] == ["legal-review", "critique", "1.0.0", "legal-review"]
    assert line.endswith("ideamine-legal-review 0.1.0")


def test_plugins_list_without_the_plugin_does_not_show_it() -> None:
    listed = _cli({}, "plugins", "list", "--json")
    assert listed.returncode == 0 and "legal-review" not in {r["agent"] for r in json.loads(listed.stdout)}


async def test_an_embedded_run_produces_the_plugin_artifact_once(
    plugin_path: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "run"
    done = await asyncio.to_thread(
        _cli,
        plugin_path,
        "run",
        str(ROOT / "examples/orchestrations/healthcare-platform.yaml"),
        "--phases",
        "critique",
        "--out",
        str(out),
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    store = await open_sqlite(out / DB_FILE)
    try:
        [run] = (await store.list_runs()).items
        reviews = await store.list_artifacts(run.id, type="legal-review", latest_only=False)
        assert len(reviews) == 1 and reviews[0].phase == "critique"
        review = reviews[0]
        assert review.model == "rules:legal-review@1.0.0"
        assert not list(Draft202012Validator(SCHEMA).iter_errors(review.content))
        assert {"HIPAA"} <= {r["regime"] for r in review.content["regimes"]}
        # it ran after the catalogue's risks task, whose legal/regulatory risks it reviewed
        risks = await store.list_artifacts(run.id, type="risk-register")
        assert risks[0].id in review.input_artifact_ids
        tasks = {t.task_key: t for t in await store.list_tasks(run.id)}
        started, risks_done = tasks["legal-review"].started_at, tasks["risks"].finished_at
        assert started is not None and risks_done is not None and started >= risks_done
        assert (await store.verify_ledger(run.id)).ok
    finally:
        await store.close()


def test_the_plugins_own_test_passes_with_the_harness(plugin_path: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=EXAMPLE,
        env={**os.environ, **plugin_path},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.postgres
@pytest.mark.redis
async def test_an_agent_host_process_loads_it_and_drains_on_sigterm(
    plugin_path: dict[str, str], pg_url: str, redis_url: str, tmp_path: Path
) -> None:
    import grpc

    metrics_port = free_port()
    async with fresh_database(pg_url) as db_url:
        host, address = serve(
            "agent-host",
            "agent-host",
            database_url=db_url,
            redis_url=redis_url,
            queue_prefix=f"test-{new_id()}",
            log_dir=tmp_path,
            env=plugin_path,
            extra=["--metrics-port", str(metrics_port)],
        )
        try:
            await wait_serving(address, "ideamine.v1.AgentHostService", host)
            scraped = await asyncio.to_thread(_get, f"http://127.0.0.1:{metrics_port}/metrics")
            assert "ideamine_agent_host_slots 4.0" in scraped
            async with grpc.aio.insecure_channel(address) as channel:
                stub = agent_host_pb2_grpc.AgentHostServiceStub(channel)
                listed = await stub.ListAgents(agent_host_pb2.AgentHostServiceListAgentsRequest())
            agents = {a.name: a for a in listed.agents}
            assert agents["legal-review"].plugin == "legal-review"
            assert list(agents["legal-review"].produces) == ["legal-review"]
        finally:
            code = await asyncio.to_thread(host.stop)
        assert code == 0, host.log()
        assert "host" in host.log() and "stopped" in host.log()
