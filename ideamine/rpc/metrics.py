"""gRPC server RED metrics: rate, errors and duration of every RPC.

:class:`MetricsInterceptor` counts each call when it starts
(``ideamine_grpc_server_started_total``) and when it ends, by status code
(``ideamine_grpc_server_handled_total``), and observes its latency
(``ideamine_grpc_server_handling_seconds``; for server streams, to the last message).
:class:`~ideamine.rpc.GrpcServer` installs it on every server, just inside the error
interceptor and before the service's own interceptors, so it sees what handlers and those
interceptors raise and records the code the error interceptor will send
(:func:`~ideamine.rpc.status.grpc_status_for`) — the code the client gets.

Labels stay bounded although the method path comes from the client: a path that names
no method of a service compiled into this process (the default protobuf descriptor pool)
is labelled ``unknown``.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import descriptor_pool  # type: ignore[import-untyped]

from ideamine import metrics
from ideamine.rpc.handlers import response_of, responses_of
from ideamine.rpc.status import grpc_status_for

__all__ = ["MetricsInterceptor"]

Handler = Callable[[Any, grpc.aio.ServicerContext], Any]
_UNKNOWN = ("unknown", "unknown")


@functools.lru_cache(maxsize=1024)
def _labels(path: str) -> tuple[str, str]:
    """``/pkg.Service/Method`` → (service, method) when the method exists, else unknown."""
    service, _, method = path.lstrip("/").partition("/")
    try:
        descriptor = descriptor_pool.Default().FindServiceByName(service)
    except KeyError:
        return _UNKNOWN
    return (service, method) if descriptor.FindMethodByName(method) is not None else _UNKNOWN


def _code_name(context: grpc.aio.ServicerContext | None, exc: BaseException | None) -> str:
    """The status code the client will see."""
    if isinstance(exc, asyncio.CancelledError):
        return str(grpc.StatusCode.CANCELLED.name)
    if exc is not None and not isinstance(exc, grpc.aio.AbortError):
        return str(grpc_status_for(exc, correlation_id="-").code.name)
    code = context.code() if context is not None else None
    if code is None:  # nothing set: OK, unless the handler aborted (then abort set the code)
        return str((grpc.StatusCode.UNKNOWN if exc is not None else grpc.StatusCode.OK).name)
    if isinstance(code, grpc.StatusCode):
        return str(code.name)
    return next((str(c.name) for c in grpc.StatusCode if c.value[0] == code), str(code))


class _Call:
    """One RPC being measured."""

    def __init__(self, service: str, method: str) -> None:
        self.service = service
        self.method = method
        self.started = time.perf_counter()
        metrics.GRPC_STARTED.labels(service=service, method=method).inc()

    def done(self, context: grpc.aio.ServicerContext | None, exc: BaseException | None) -> None:
        code = _code_name(context, exc)
        metrics.GRPC_HANDLED.labels(service=self.service, method=self.method, code=code).inc()
        metrics.GRPC_LATENCY.labels(service=self.service, method=self.method).observe(
            time.perf_counter() - self.started
        )


def _unary(
    inner: Handler, labels: tuple[str, str]
) -> Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]:
    async def handler(request: Any, context: grpc.aio.ServicerContext) -> Any:
        call = _Call(*labels)
        try:
            response = await response_of(inner(request, context))
        except BaseException as exc:
            call.done(context, exc)
            raise
        call.done(context, None)
        return response

    return handler


def _stream(
    inner: Handler, labels: tuple[str, str]
) -> Callable[[Any, grpc.aio.ServicerContext], AsyncIterator[Any]]:
    async def handler(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        call = _Call(*labels)
        try:
            async for item in responses_of(inner(request, context)):
                yield item
        except BaseException as exc:
            call.done(context, exc)
            raise
        call.done(context, None)

    return handler


#: handler attribute → (factory of the rewrapped handler, whether responses stream)
_KINDS: tuple[tuple[str, Callable[..., grpc.RpcMethodHandler], bool], ...] = (
    ("unary_unary", grpc.unary_unary_rpc_method_handler, False),
    ("unary_stream", grpc.unary_stream_rpc_method_handler, True),
    ("stream_unary", grpc.stream_unary_rpc_method_handler, False),
    ("stream_stream", grpc.stream_stream_rpc_method_handler, True),
)


class MetricsInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Counts and times every RPC by service, method and status code (see the module docstring)."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        """Wrap the next handler so its calls are counted and timed."""
        labels = _labels(handler_call_details.method)
        try:
            handler = await continuation(handler_call_details)
        except Exception as exc:  # refused by a later interceptor (authentication, ...)
            _Call(*labels).done(None, exc)
            raise
        if handler is None:
            return None  # no such method: gRPC answers UNIMPLEMENTED itself
        for attr, factory, streams in _KINDS:
            inner = getattr(handler, attr)
            if inner is not None:
                wrapped = _stream(inner, labels) if streams else _unary(inner, labels)
                return factory(
                    wrapped,
                    request_deserializer=handler.request_deserializer,
                    response_serializer=handler.response_serializer,
                )
        return handler
