"""Ending the worker processes a benchmark started (stdlib only: the peers' venvs import it)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from typing import Any

__all__ = ["terminate_all"]


def terminate_all(procs: Sequence[subprocess.Popen[Any]], *, timeout: float = 20.0) -> None:
    """SIGTERM every process, then wait; SIGKILL whichever outlives ``timeout``."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=timeout)
