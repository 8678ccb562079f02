"""A local Anthropic-compatible Messages API server that answers like the offline model, slowly.

The pipeline benchmark needs model calls that *take time*, as real ones do, to see how
much of a run's wall time the orchestration adds between dependent calls. This is the
suites' fake Messages server (:mod:`tests.llm.fake_messages_server`, a real HTTP server
on a 127.0.0.1 socket, one thread per request) answering every request with the offline
model's artifact for it (:func:`tests.security.offline_messages.offline_reply`) after
``delay_s``. Agents reach it through the real ``anthropic`` SDK (``--model anthropic``
with ``ANTHROPIC_BASE_URL``), so retries, parsing and metering are the real ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.llm.fake_messages_server import FakeMessagesServer, Reply
from tests.security.offline_messages import offline_reply

__all__ = ["DelayedModelServer"]

#: scripted answers per server: more than any example run makes (healthcare ≈ 100 calls)
ANSWERS = 3000


def _delayed(reply: Reply, delay_s: float) -> Reply:
    body = reply.body
    assert callable(body), "offline_reply builds its body per request"
    render: Callable[[Any], Any] = body

    def slow(request_body: Any) -> Any:
        time.sleep(delay_s)
        return render(request_body)

    return Reply(reply.status, slow, reply.headers)


class DelayedModelServer(FakeMessagesServer):
    """``with DelayedModelServer(0.3) as server:`` — ``server.base_url`` answers after 300 ms."""

    def __init__(self, delay_s: float) -> None:
        super().__init__()
        self.delay_s = delay_s
        self.script(*([_delayed(offline_reply(), delay_s)] * ANSWERS))
