"""One place that turns exceptions into gRPC statuses.

Servicers raise errors from :mod:`ideamine.errors`; they never build statuses themselves.
:class:`ErrorInterceptor` catches what a handler raises and ends the call with a rich
status (``google.rpc.Status`` in the ``grpc-status-details-bin`` trailer) so that every
client, in any language, gets the same machine-readable shape:

====================================  ===================  =========================================
error                                 gRPC code            details
====================================  ===================  =========================================
InvalidInput (and CatalogError)       INVALID_ARGUMENT     ErrorInfo + BadRequest field violations
NotFound                              NOT_FOUND            ErrorInfo
Conflict (and StaleAttempt)           FAILED_PRECONDITION  ErrorInfo
PermissionDenied                      PERMISSION_DENIED    ErrorInfo
Unauthenticated                       UNAUTHENTICATED      ErrorInfo
BudgetExceeded                        RESOURCE_EXHAUSTED   ErrorInfo
any other error with retryable=True   UNAVAILABLE          ErrorInfo (+ RetryInfo when known)
(store/queue unavailable, queue full,
LLM overload)
anything else                         INTERNAL             ErrorInfo with a correlation id only
====================================  ===================  =========================================

Why the last row hides everything: an unexpected exception is a bug, and its text may hold
SQL, paths or secrets. The client gets a generic message and a correlation id; the server
log gets the traceback under the same id.
"""

from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2  # type: ignore[import-untyped]
from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from ideamine.errors import (
    BudgetExceeded,
    Conflict,
    IdeaMineError,
    InvalidInput,
    LLMRetryable,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)

__all__ = ["ERROR_DOMAIN", "CORRELATION_HEADER", "ErrorInterceptor", "status_for", "grpc_status_for"]

logger = logging.getLogger(__name__)

#: ``google.rpc.ErrorInfo.domain`` of every error IdeaMine reports.
ERROR_DOMAIN = "ideamine"
#: Incoming metadata key whose value (when present, e.g. set by Envoy) becomes the correlation id.
CORRELATION_HEADER = "x-request-id"

#: Expected errors with a fixed code, most specific first (subclasses inherit their parent's row).
_CODES: tuple[tuple[type[IdeaMineError], int], ...] = (
    (InvalidInput, code_pb2.INVALID_ARGUMENT),
    (NotFound, code_pb2.NOT_FOUND),
    (Conflict, code_pb2.FAILED_PRECONDITION),
    (PermissionDenied, code_pb2.PERMISSION_DENIED),
    (Unauthenticated, code_pb2.UNAUTHENTICATED),
    (BudgetExceeded, code_pb2.RESOURCE_EXHAUSTED),
)
#: ``IdeaMineError.details`` keys that are safe to return to a caller as ErrorInfo metadata.
#: Anything else (tenant, host, SQL state, ...) stays in the server log.
_PUBLIC_DETAILS = frozenset(
    {"run_id", "phase", "task_id", "artifact_id", "question_id", "checkpoint_id", "agent", "field", "scope"}
)


def _pack(*messages: Any) -> list[any_pb2.Any]:
    packed = []
    for m in messages:
        a = any_pb2.Any()
        a.Pack(m)
        packed.append(a)
    return packed


def _error_info(reason: str, metadata: dict[str, str]) -> error_details_pb2.ErrorInfo:
    return error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN, metadata=metadata)


def _code_of(exc: IdeaMineError) -> int | None:
    for cls, code in _CODES:
        if isinstance(exc, cls):
            return code
    return code_pb2.UNAVAILABLE if exc.retryable else None


def status_for(exc: BaseException, *, correlation_id: str) -> status_pb2.Status:
    """Build the ``google.rpc.Status`` a client receives for ``exc``.

    Args:
        exc: what the handler raised.
        correlation_id: id tying the client's view to the server log; returned for
            unexpected errors only, where the log is the only place with the cause.

    Returns:
        A non-OK status whose message and details are safe to send to the caller.
    """
    code = _code_of(exc) if isinstance(exc, IdeaMineError) else None
    if code is None or not isinstance(exc, IdeaMineError):
        reason = exc.reason if isinstance(exc, IdeaMineError) else "INTERNAL"
        return status_pb2.Status(
            code=code_pb2.INTERNAL,
            message=f"internal error (correlation id {correlation_id})",
            details=_pack(_error_info(reason, {"correlation_id": correlation_id})),
        )
    metadata = {k: str(v) for k, v in sorted(exc.details.items()) if k in _PUBLIC_DETAILS and v is not None}
    metadata["retryable"] = "true" if exc.retryable else "false"
    details: list[Any] = [_error_info(exc.reason, metadata)]
    if isinstance(exc, InvalidInput) and exc.violations:
        details.append(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                    for v in exc.violations
                ]
            )
        )
    if isinstance(exc, LLMRetryable) and exc.retry_after is not None:
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(int(exc.retry_after * 1e9))
        details.append(error_details_pb2.RetryInfo(retry_delay=delay))
    return status_pb2.Status(code=code, message=exc.message, details=_pack(*details))


def grpc_status_for(exc: BaseException, *, correlation_id: str) -> grpc.Status:
    """:func:`status_for`, converted to the ``grpc.Status`` that ``abort_with_status`` takes."""
    return rpc_status.to_status(status_for(exc, correlation_id=correlation_id))


def _correlation_id(context: grpc.aio.ServicerContext | None) -> str:
    if context is not None:
        for key, value in context.invocation_metadata() or ():
            if key == CORRELATION_HEADER and isinstance(value, str) and 0 < len(value) <= 128:
                return value
    return uuid.uuid4().hex


async def _abort(context: grpc.aio.ServicerContext, exc: Exception, method: str) -> None:
    cid = _correlation_id(context)
    if isinstance(exc, IdeaMineError) and _code_of(exc) is not None:
        logger.info("rpc %s failed: %s %s (correlation id %s)", method, exc.reason, exc.message, cid)
    else:
        logger.error("rpc %s raised an unexpected error (correlation id %s)", method, cid, exc_info=exc)
    status = grpc_status_for(exc, correlation_id=cid)
    await context.abort(status.code, status.details, status.trailing_metadata)


Handler = Callable[[Any, grpc.aio.ServicerContext], Any]


def _wrap_unary(inner: Handler, method: str) -> Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]:
    async def handler(request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            result = inner(request, context)
            return (await result) if inspect.isawaitable(result) else result
        except grpc.aio.AbortError:
            raise  # the handler chose its own status
        except Exception as exc:
            await _abort(context, exc, method)

    return handler


def _wrap_stream(
    inner: Handler, method: str
) -> Callable[[Any, grpc.aio.ServicerContext], AsyncIterator[Any]]:
    async def handler(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        try:
            result = inner(request, context)
            if hasattr(result, "__aiter__"):
                async for item in result:
                    yield item
            elif inspect.isawaitable(result):
                await result  # a handler that streams with context.write()
            else:
                for item in result:
                    yield item
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await _abort(context, exc, method)

    return handler


def _parsing(inner: Handler, deserialize: Callable[[bytes], Any] | None) -> Handler:
    """``inner`` fed a request parsed here, so a corrupt payload is INVALID_ARGUMENT.

    grpc would otherwise parse before any interceptor runs and answer UNKNOWN with the
    decoder's exception class in the message (found by tests/fuzz).
    """
    if deserialize is None:
        return inner

    def parsed(raw: bytes, context: grpc.aio.ServicerContext) -> Any:
        try:
            request = deserialize(raw)
        except DecodeError:
            raise InvalidInput("the request is not a valid protobuf message of this method") from None
        return inner(request, context)

    return parsed


def _wrap(handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
    kw = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    unary_request = {**kw, "request_deserializer": None}
    if handler.unary_unary is not None:
        inner = _parsing(handler.unary_unary, handler.request_deserializer)
        return grpc.unary_unary_rpc_method_handler(_wrap_unary(inner, method), **unary_request)
    if handler.unary_stream is not None:
        inner = _parsing(handler.unary_stream, handler.request_deserializer)
        return grpc.unary_stream_rpc_method_handler(_wrap_stream(inner, method), **unary_request)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(_wrap_unary(handler.stream_unary, method), **kw)
    if handler.stream_stream is not None:
        return grpc.stream_stream_rpc_method_handler(_wrap_stream(handler.stream_stream, method), **kw)
    return handler


class ErrorInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Maps exceptions raised by handlers to rich gRPC statuses (see the module docstring).

    Install it first (outermost), so that it also sees errors raised by the interceptors
    after it: an interceptor that refuses a call (e.g. authentication) may simply raise an
    :class:`~ideamine.errors.IdeaMineError` from ``intercept_service``.
    """

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        """Wrap the next handler so its exceptions become statuses."""
        method: str = handler_call_details.method
        try:
            handler = await continuation(handler_call_details)
        except Exception as exc:
            refusal = exc

            async def refuse(request: Any, context: grpc.aio.ServicerContext) -> None:
                await _abort(context, refusal, method)

            # The RPC's shape is unknown here; a unary handler that aborts before reading
            # works for every shape (the peer only sees the status).
            return grpc.unary_unary_rpc_method_handler(refuse)
        if handler is None:
            return None
        return _wrap(handler, method)
