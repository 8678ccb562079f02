"""Batching of concurrent calls: calls of one kind that arrive together share one round trip.

An agent host works up to its slot count of tasks at the same moment, and each task
alone costs round trips — a completion four (``BEGIN``, fence, effects, ``COMMIT``) and
a WAL flush, a start as many, a read or a queue acknowledgement one. :class:`Grouped`
turns the calls that arrive while one batch is in flight into the *next* batch, made
by a batch function of the same rules (e.g.
:meth:`~ideamine.store.postgres.results.ResultsMixin.commit_task_results`): under load
the cost per call falls with the batch size; alone, a call runs at once with no wait.

The batch function is all-or-nothing. When a batch fails with anything but a lost
backend (a fenced attempt, a conflict: one member's problem, not the others'), each
member is run again on its own, so every caller gets exactly the answer a call of its
own would have given. When the backend is unreachable every member gets that error —
nothing of theirs was written. A caller cancelled before its batch starts is left out;
when every caller of the batch in flight has been cancelled, the batch is cancelled too
(unless the batches are commits worth finishing: ``finish_orphans``), and the last
caller's cancellation completes only once the batch has ended: nothing a batch does
outlives its callers (a relay pass reconnecting to a queue its owner has just closed,
say, and leaking the connection).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from ideamine.errors import QueueUnavailable, StoreUnavailable

__all__ = ["Grouped", "MAX_BATCH"]

_In = TypeVar("_In")
_Out = TypeVar("_Out")

#: the most calls one batch covers (the statements grow with it)
MAX_BATCH = 64

#: errors meaning the backend itself is gone: every member fails, none is retried alone
UNAVAILABLE: tuple[type[Exception], ...] = (StoreUnavailable, QueueUnavailable)


class Grouped(Generic[_In, _Out]):
    """Serve calls through ``batch(items)``, one batch in flight at a time.

    Lifecycle: one per kind of call and owner (a store, a worker), bound to the running
    event loop through its callers' futures; nothing to close — a batch ends with its
    last caller (cancelled when that caller is).

    ``finish_orphans``: a running batch whose callers were all cancelled is finished
    instead, in the background. For commits whose backend outlives the batch (an asyncpg
    pool's close waits for its connections): a result already being committed for a
    task whose worker was stopped stays committed rather than being paid for again.
    """

    def __init__(
        self,
        batch: Callable[[Sequence[_In]], Awaitable[Sequence[_Out]]],
        *,
        max_batch: int = MAX_BATCH,
        finish_orphans: bool = False,
    ) -> None:
        self._batch = batch
        self._max_batch = max_batch
        self._finish_orphans = finish_orphans
        self._waiting: list[tuple[_In, asyncio.Future[_Out]]] = []
        #: the members of the batch in flight
        self._running: list[tuple[_In, asyncio.Future[_Out]]] = []
        self._runner: asyncio.Task[None] | None = None

    async def __call__(self, item: _In) -> _Out:
        """The outcome of ``item``, committed in whichever batch took it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_Out] = loop.create_future()
        self._waiting.append((item, future))
        # a runner of another (closed) event loop never finishes: this loop gets its own
        if self._runner is None or self._runner.done() or self._runner.get_loop() is not loop:
            self._runner = loop.create_task(self._serve(), name="grouped-calls")
        try:
            return await future
        except asyncio.CancelledError:
            await self._stop_if_orphaned(loop)
            raise

    async def _stop_if_orphaned(self, loop: asyncio.AbstractEventLoop) -> None:
        """Cancel the runner once no caller waits on it, and wait until it has ended."""
        runner = self._runner
        if self._finish_orphans or runner is None or runner.done() or runner.get_loop() is not loop:
            return
        if any(not f.done() for _, f in (*self._running, *self._waiting)):
            return  # someone still wants the batch's answer
        runner.cancel()
        await asyncio.wait({runner})

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        members: list[tuple[_In, asyncio.Future[_Out]]] = []
        try:
            while self._waiting:
                taken, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
                # cancelled callers drop out, and so do callers of a loop that closed under them
                members = [(item, f) for item, f in taken if not f.done() and f.get_loop() is loop]
                if members:
                    self._running = members
                    try:
                        await self._run(members)
                    finally:
                        self._running = []
        except BaseException:  # this task was cancelled (the loop is closing): nobody may hang
            for _, f in [*members, *self._waiting]:
                if not f.get_loop().is_closed():  # a closed loop's callers are gone already
                    f.cancel()
            self._waiting = []
            raise

    async def _run(self, members: list[tuple[_In, asyncio.Future[_Out]]]) -> None:
        try:
            outcomes = await self._batch([item for item, _ in members])
        except UNAVAILABLE as exc:
            for _, f in members:
                _settle(f, exc=exc)
            return
        except Exception as exc:
            if len(members) == 1:
                _settle(members[0][1], exc=exc)
            else:
                await self._one_by_one(members)
            return
        for (_, f), out in zip(members, outcomes, strict=True):
            _settle(f, out)

    async def _one_by_one(self, members: list[tuple[_In, asyncio.Future[_Out]]]) -> None:
        """A refused batch: each member alone, so each gets its own answer."""
        for item, f in members:
            try:
                (out,) = await self._batch([item])
            except Exception as exc:
                _settle(f, exc=exc)
            else:
                _settle(f, out)


def _settle(
    future: asyncio.Future[_Out], out: _Out | None = None, *, exc: BaseException | None = None
) -> None:
    if future.done():  # the caller went away (cancelled) while its batch ran
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(out)  # type: ignore[arg-type]
