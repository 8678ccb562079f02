"""The event loop a process runs on: uvloop where it is installed, else asyncio's own.

Every service is CPU-bound on a small machine long before its database is, and much of
that CPU is the event loop itself: selecting, scheduling callbacks and writing to
sockets (asyncpg, redis, gRPC). uvloop does that work in C on libuv. Measured with the
no-op fan-out of ``bench/throughput.py`` on 2 cores, three alternating runs each: 2.62 →
2.33 ms of CPU per task (orchestrator, agent hosts and PostgreSQL together) and 707 →
785 tasks/s.

``IDEAMINE_EVENT_LOOP=asyncio`` runs on asyncio's loop instead (to rule the loop out when
debugging, or where uvloop has no wheel); ``=uvloop`` insists on uvloop.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Coroutine
from typing import Any, TypeVar

from ideamine.config import event_loop_from_env
from ideamine.errors import InvalidInput

__all__ = ["chosen_loop", "run"]

_T = TypeVar("_T")


def _uvloop_installed() -> bool:
    return importlib.util.find_spec("uvloop") is not None


def chosen_loop() -> str:
    """``uvloop`` or ``asyncio``: what :func:`run` will use under the current environment.

    Raises:
        InvalidInput: ``IDEAMINE_EVENT_LOOP`` is not a known loop, or asks for uvloop
            where it is not installed.
    """
    wanted = event_loop_from_env()
    if wanted == "uvloop" and not _uvloop_installed():
        raise InvalidInput(
            "IDEAMINE_EVENT_LOOP=uvloop but uvloop is not installed (pip install uvloop, or unset it)",
            field="IDEAMINE_EVENT_LOOP",
        )
    if wanted is not None:
        return wanted
    return "uvloop" if _uvloop_installed() else "asyncio"


def run(main: Coroutine[Any, Any, _T]) -> _T:
    """Run ``main`` to completion on a new loop of the chosen kind (like :func:`asyncio.run`).

    A refused choice closes ``main`` unstarted, so no "never awaited" warning follows the error.
    """
    try:
        loop = chosen_loop()
    except InvalidInput:
        main.close()
        raise
    if loop == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)
