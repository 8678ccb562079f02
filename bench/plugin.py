"""The no-op agent plugin, installed where only the bench's agent hosts see it.

``bench/noop_agent/`` is an ordinary third-party plugin package (its own pyproject and an
``ideamine.agents`` entry point). :func:`plugin_path` installs it with pip into
``bench/.venvs/noop-plugin`` (``--target``, reinstalled when its source changes) and
returns that directory; the bench puts it on the ``PYTHONPATH`` of the agent-host
processes it starts, whose plugin manager then finds the entry point like any other.
It is deliberately *not* installed into the shared virtualenv: there, every run's intake
phase would plan the no-op agent's task as an extension task.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.noop_agent.ideamine_bench_noop import AGENT, ARTIFACT, TASK

__all__ = ["AGENT", "ARTIFACT", "TASK", "plugin_path"]

SOURCE = Path(__file__).resolve().parent / "noop_agent"
TARGET = Path(__file__).resolve().parent / ".venvs" / "noop-plugin"


def _source_hash() -> str:
    h = hashlib.sha256()
    for f in sorted(SOURCE.rglob("*")):
        if f.is_file() and f.suffix in (".py", ".toml"):
            h.update(f.relative_to(SOURCE).as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def plugin_path() -> Path:
    """The directory holding the installed plugin (installs it on first use or change)."""
    stamp = TARGET / ".source-sha256"
    digest = _source_hash()
    if stamp.is_file() and stamp.read_text() == digest:
        return TARGET
    shutil.rmtree(TARGET, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:  # build from a copy: no build/ or egg-info in the tree
        src = Path(tmp) / "src"
        shutil.copytree(SOURCE, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
            + ["--target", str(TARGET), str(src)],
            check=True,
        )
    stamp.write_text(digest)
    return TARGET
