"""Rendering docs/benchmarks.md from a results directory, as ``python -m bench`` does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

__all__ = ["render_docs"]


def render_docs(results: Path, out: Path) -> subprocess.CompletedProcess[str]:
    """Run ``scripts/gen_bench_docs.py`` on ``results`` into ``out`` (its exit status and output)."""
    return subprocess.run(
        [sys.executable, "scripts/gen_bench_docs.py", f"--results={results}", f"--out={out}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
