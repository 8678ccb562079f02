"""freeze_startup_heap: what startup built leaves the cyclic collector's generations."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from ideamine.heap import freeze_startup_heap


@pytest.fixture
def thawed() -> Iterator[None]:
    yield
    gc.unfreeze()  # the test process keeps collecting its own heap


def test_the_startup_heap_is_frozen_and_garbage_is_collected_first(thawed: None) -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self  # a cycle: only the cyclic collector frees it

    kept = Node()
    garbage = Node()
    collected = weakref.ref(garbage)
    del garbage
    freeze_startup_heap()
    assert collected() is None  # collected before the freeze, not kept forever
    assert gc.get_freeze_count() > 0
    assert not any(o is kept for o in gc.get_objects())  # no generation walks it any more
    later = Node()  # what the process allocates afterwards is collected as before
    assert any(o is later for o in gc.get_objects())
