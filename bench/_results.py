"""Where this suite's result files go: ``bench/results/`` or a directory of the caller's.

:func:`save` adds what :func:`bench._common.write_result` adds (the machine) plus the
load average, because numbers taken on a busy shared box mean something else than on
an idle one. ``--quick`` runs and tests pass their own directory, so a smoke run never
overwrites the real results the docs are generated from.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from bench._common import RESULTS, machine, write_result

__all__ = ["RESULTS", "save"]


def save(name: str, data: dict[str, Any], directory: Path | None = None) -> Path:
    """Write ``<directory>/<name>.json`` (default ``bench/results``) and return its path."""
    data = {**data, "load_average_at_write": [round(x, 2) for x in os.getloadavg()]}
    if directory is None or directory.resolve() == RESULTS.resolve():
        return write_result(name, data)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    path.write_text(
        json.dumps({"machine": machine(), **data}, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return path
