"""Keep the cyclic garbage collector off a long-lived process's startup heap.

A service imports the anthropic SDK, pydantic, gRPC, OpenTelemetry and the catalogue
before its first task: millions of objects that live as long as the process. Each full
(generation 2) collection walks all of them — about 100 ms on this 2-core box, several
times a run, with the event loop stopped and every task of the process waiting (measured
on agent hosts during the healthcare example). :func:`freeze_startup_heap`, called once
startup is done, moves them to the permanent generation (:func:`gc.freeze`), so later
collections only walk what the process allocated since. Frozen objects are still freed
when their reference count drops to zero; only cycles among them are never collected,
which is why it runs once, at the end of startup, and not per run or per test.
"""

from __future__ import annotations

import gc

__all__ = ["freeze_startup_heap"]


def freeze_startup_heap() -> None:
    """Collect what startup left behind, then exempt the surviving heap from later collections."""
    gc.collect()
    gc.freeze()
