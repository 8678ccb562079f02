"""The docs' commands run: every shell block is marked, the runnable ones run as shown.

Each shell block in ``docs/*.md`` carries a marker on the line before it:
``<!-- docs-test: run -->`` (this test runs it) or ``<!-- docs-test: skip: <why> -->`` (too
long, needs servers or a key). A doc's runnable blocks run in order in one fresh working
directory that looks like a checkout (``venv``, ``examples`` linked in), so ``out/...`` lands
there and nothing touches the repository. The plugin guide's example module and its "try
it" script run the same way.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.docs.support import DOCS, ROOT, Block, blocks, read

DOC_FILES = sorted(p.name for p in DOCS.glob("*.md"))
SHELL = ("bash", "sh")
#: generous: an embedded run of the todo example takes seconds, but CI machines are shared
TIMEOUT = 600


def _workdir(tmp_path: Path) -> Path:
    work = tmp_path / "checkout"
    work.mkdir()
    for name in ("venv", "examples"):
        (work / name).symlink_to(ROOT / name)
    return work


def _run(
    code: str, work: Path, *, argv: list[str], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*argv, code],
        cwd=work,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


@pytest.mark.parametrize("doc", DOC_FILES)
def test_every_shell_block_is_marked_run_or_skip_with_a_reason(doc: str) -> None:
    for b in blocks(doc):
        if b.lang in SHELL:
            assert b.marker in ("run", "skip"), f"{doc}:{b.line}: mark the block docs-test: run or skip"
            assert b.marker == "run" or len(b.arg) > 10, f"{doc}:{b.line}: say why it is skipped"


def _shell_blocks(doc: str) -> list[Block]:
    return [b for b in blocks(doc) if b.lang in SHELL and b.marker == "run"]


@pytest.mark.slow
@pytest.mark.parametrize("doc", [d for d in DOC_FILES if _shell_blocks(d)])
def test_runnable_shell_blocks_run(doc: str, tmp_path: Path) -> None:
    work = _workdir(tmp_path)
    for b in _shell_blocks(doc):
        done = _run(b.code, work, argv=["bash", "-euo", "pipefail", "-c"])
        assert done.returncode == 0, (
            f"{doc}:{b.line} failed ({done.returncode}):\n{b.code}\n{done.stdout}\n{done.stderr}"
        )
    if doc == "quickstart.md":
        _check_quickstart_outputs(work)


def _check_quickstart_outputs(work: Path) -> None:
    """What the quickstart says you get is there."""
    text = read("quickstart.md")
    promised = set(re.findall(r"`(out/[\w./-]+)`", text))
    assert len(promised) >= 6
    for path in sorted(promised):
        assert (work / path).exists(), f"quickstart.md promises {path}"
    html = (work / "out/todo-app/report.html").read_text(encoding="utf-8")
    assert html.count('class="gantt-row"') == 4  # intake, ideation, critique, prd
    assert "SUCCEEDED" in html


def _plugin_blocks() -> tuple[Block, Block]:
    found = {b.marker: b for b in blocks("plugins.md") if b.marker in ("plugin-module", "plugin-try")}
    return found["plugin-module"], found["plugin-try"]


def _harness_block() -> Block:
    return next(b for b in blocks("plugins.md") if b.marker == "plugin-harness")


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_the_plugin_guide_example_replaces_one_task_of_a_real_run(tmp_path: Path) -> None:
    module_block, try_block = _plugin_blocks()
    work = _workdir(tmp_path)
    (work / module_block.arg).write_text(module_block.code, encoding="utf-8")
    done = _run(
        try_block.code, work, argv=[sys.executable, "-c"], env={"PYTHONPATH": f"{work}{os.pathsep}{ROOT}"}
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert sorted(lines[:-1]) == [
        "competition ideation SUCCEEDED",
        "personas b2b-personas SUCCEEDED",
        "strategy ideation SUCCEEDED",
        "tech-stack ideation SUCCEEDED",
    ]
    assert lines[-1] == "run SUCCEEDED"


def test_the_plugin_guide_example_guard_and_renderer_do_what_the_guide_says(tmp_path: Path) -> None:
    from ideamine import Draft
    from ideamine.catalogue import load_catalogue
    from ideamine.plugins import get_plugin_manager

    module_block, _ = _plugin_blocks()
    path = tmp_path / module_block.arg
    path.write_text(module_block.code, encoding="utf-8")
    plugin = _load(path)
    pm = get_plugin_manager(extra=[plugin])

    guards = [g for gs in pm.hook.ideamine_register_guards() for g in gs]
    guard = next(g for g in guards if g.name == "unique-persona-names")
    spec = load_catalogue().phase("ideation")
    twins = {"personas": [{"personas": [{"name": "Ada"}, {"name": "Ada"}, {"name": "Bo"}]}]}
    (finding,) = guard.check(Draft(spec, twins, {}))
    assert finding.blocking and finding.artifact_type == "personas" and "'Ada'" in finding.message
    assert guard.check(Draft(spec, {"personas": [{"personas": [{"name": "Ada"}, {"name": "Bo"}]}]}, {})) == []

    personas = {"personas": [{"name": "Ada", "role": "buyer", "goals": ["approve spend", "see totals"]}]}
    rendered = pm.hook.ideamine_render_artifact(artifact_type="personas", content=personas, model="offline")
    assert rendered == "# Personas\n\n_Model: offline_\n\n- **Ada** (buyer): approve spend; see totals\n"
    other = pm.hook.ideamine_render_artifact(
        artifact_type="pricing", content={"currency": "EUR"}, model="offline"
    )
    assert other.startswith("# Pricing")  # the built-in renderer, for every other type

    agents = [c for cs in pm.hook.ideamine_register_agents() for c in cs]
    assert any(c.name == "b2b-personas" and set(c.tasks) == {"personas"} for c in agents)


async def test_the_plugin_guide_harness_test_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module_block, _ = _plugin_blocks()
    (tmp_path / module_block.arg).write_text(module_block.code, encoding="utf-8")
    (tmp_path / "test_b2b.py").write_text(_harness_block().code, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    test = _load(tmp_path / "test_b2b.py")
    tests = [fn for name, fn in vars(test).items() if name.startswith("test_")]
    assert len(tests) == 1
    await tests[0]()
