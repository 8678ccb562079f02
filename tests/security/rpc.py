"""Every public RPC of the orchestrator, found from the descriptors, and one way to call any of them.

Shared by the fuzz suite (random requests to every method) and the tenant-isolation suite
(real ids of another tenant to every method), so "every RPC" means the same list in both
and a new RPC is covered by both without editing either.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc
from google.protobuf import message_factory  # type: ignore[import-untyped]
from google.protobuf.descriptor import MethodDescriptor  # type: ignore[import-untyped]

from ideamine._proto.ideamine.v1 import (
    agent_host_pb2,
    artifact_pb2,
    budget_pb2,
    catalog_pb2,
    checkpoint_pb2,
    clarification_pb2,
    gate_pb2,
    phase_pb2,
    run_pb2,
    task_pb2,
)

__all__ = ["METHODS", "Result", "call", "path_of"]

_MODULES = (
    run_pb2,
    phase_pb2,
    artifact_pb2,
    clarification_pb2,
    gate_pb2,
    budget_pb2,
    checkpoint_pb2,
    catalog_pb2,
    task_pb2,
    agent_host_pb2,
)
#: every method a client may call on the orchestrator (AgentHostService is served by hosts)
METHODS: list[MethodDescriptor] = [
    m
    for module in _MODULES
    for service in module.DESCRIPTOR.services_by_name.values()
    if service.name != "AgentHostService"
    for m in service.methods
]

#: (the error, or None for OK; the responses received)
Result = tuple[grpc.aio.AioRpcError | None, list[Any]]


def path_of(method: MethodDescriptor) -> str:
    """``/package.Service/Method``."""
    return f"/{method.containing_service.full_name}/{method.name}"


async def call(
    channel: grpc.aio.Channel,
    method: MethodDescriptor,
    request: Any,
    metadata: Sequence[tuple[str, str]],
    *,
    serialize: Any = None,
    max_stream: int = 20,
) -> Result:
    """Call ``method``; a server stream is read for at most ``max_stream`` messages.

    Args:
        serialize: request serializer (default: protobuf); ``bytes`` sends raw payloads.
    """
    out = message_factory.GetMessageClass(method.output_type)
    kw: dict[str, Any] = {
        "request_serializer": serialize or (lambda m: m.SerializeToString()),
        "response_deserializer": out.FromString,
    }
    received: list[Any] = []
    try:
        if method.server_streaming:
            stream = channel.unary_stream(path_of(method), **kw)(request, metadata=metadata, timeout=10)
            async for message in stream:  # a live run streams for ever: a few events prove it works
                received.append(message)
                if len(received) >= max_stream:
                    stream.cancel()
                    break
        else:
            received.append(
                await channel.unary_unary(path_of(method), **kw)(request, metadata=metadata, timeout=10)
            )
    except grpc.aio.AioRpcError as err:
        return err, received
    return None, received
