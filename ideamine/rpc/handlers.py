"""Calling a servicer method whatever its shape, for interceptors that wrap handlers.

A ``grpc.aio`` servicer method may be a coroutine, a plain function, an async generator,
a plain generator or a coroutine that streams with ``context.write()``. Interceptors that
wrap handlers need the result (unary) or every response (streaming) without caring which;
these two helpers are that one piece of logic.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from typing import Any

__all__ = ["response_of", "responses_of"]


async def response_of(result: Any) -> Any:
    """The response of a unary handler call (awaited when the handler was a coroutine)."""
    return (await result) if inspect.isawaitable(result) else result


async def responses_of(result: Any) -> AsyncIterator[Any]:
    """Every response of a streaming handler call (none for one that used ``context.write()``)."""
    if hasattr(result, "__aiter__"):
        async for item in result:
            yield item
    elif inspect.isawaitable(result):
        await result
    else:
        for item in result:
            yield item
