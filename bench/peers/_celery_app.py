"""The Celery app the Celery peer benchmark runs (imported only inside the Celery venv).

Broker and result backend are the same Redis as IdeaMine's, on loopback. The queue name
comes from ``BENCH_CELERY_QUEUE`` so concurrent benchmarks never share a queue, and
results expire after ten minutes besides being deleted by the bench.
"""

from __future__ import annotations

import os
import time

from celery import Celery  # type: ignore[import-not-found]

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
QUEUE = os.environ.get("BENCH_CELERY_QUEUE", "bench-celery")

app = Celery("bench", broker=REDIS_URL, backend=REDIS_URL)
app.conf.update(
    task_default_queue=QUEUE,
    result_expires=600,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)


@app.task(name="bench.noop")  # type: ignore[untyped-decorator]
def noop(sent_at: float) -> tuple[float, float]:
    """No work: returns when it was sent and when it started (for the queue wait)."""
    return sent_at, time.time()
