"""Per-peer virtualenvs under ``bench/.venvs/``, created by the bench on first use.

A peer's packages never enter IdeaMine's own environment (Celery's kombu or Temporal's
protobuf pins could clash with ours). Each venv is made from the interpreter running the
bench, gets exactly the requirement specifiers given, and is reused while those
specifiers are unchanged (a stamp file holds them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["ROOT", "VENVS", "ensure_venv", "run_in_venv"]

ROOT = Path(__file__).resolve().parents[2]
VENVS = ROOT / "bench" / ".venvs"


def ensure_venv(name: str, requirements: Sequence[str], *, timeout: float = 900.0) -> Path:
    """The python of ``bench/.venvs/<name>`` with ``requirements`` installed (creating it if needed).

    Raises:
        RuntimeError: venv creation or pip failed (no registry access?), with pip's message.
    """
    root = VENVS / name
    python = root / "bin" / "python"
    stamp = root / ".requirements"
    wanted = "\n".join(requirements)
    if python.exists() and stamp.is_file() and stamp.read_text() == wanted:
        return python
    base = getattr(sys, "_base_executable", sys.executable)
    for cmd in (
        [base, "-m", "venv", "--clear", str(root)],
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *requirements],
    ):
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if done.returncode:
            raise RuntimeError(f"{' '.join(cmd[:4])} … failed:\n{done.stderr[-2000:]}")
    stamp.write_text(wanted)
    return python


def run_in_venv(
    name: str, requirements: Sequence[str], module: str, args: Sequence[str], *, timeout: float
) -> dict[str, Any]:
    """Run ``python -m module --measure args`` in the peer's venv; returns the JSON it prints last.

    The repository root is put on ``PYTHONPATH`` so the peer's module (and
    :mod:`bench._stats`) import there; nothing of IdeaMine is imported in a peer venv.
    """
    python = ensure_venv(name, requirements)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [str(python), "-m", module, "--measure", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        raise RuntimeError(f"{module} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result
