"""The child side of ``--isolation process`` (see :mod:`agent_host.isolation`).

Started by path as ``python -I isolation_child.py``: only the standard library is imported
until the init message has arrived, so the resource limits are in force before any
IdeaMine or agent code loads, and the import path is the parent's, not the environment's.

Sequence: take the channel off stdin/stdout (stdout then points at stderr, so an agent's
``print`` cannot corrupt the channel) → read ``init`` → set RLIMIT_AS and RLIMIT_CPU →
import the agent class → rebuild the context with proxies for ``llm.generate`` and
``heartbeat`` → run the agent → send ``result`` or ``error`` → exit.
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
import json
import os
import resource
import sys
from typing import Any


class _Channel:
    """Line-delimited JSON over the two pipe ends the child kept for itself."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}

    @classmethod
    async def open(cls, rfd: int, wfd: int, limit: int) -> _Channel:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=limit)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(rfd, "rb", 0))
        transport, protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, os.fdopen(wfd, "wb", 0)
        )
        return cls(reader, asyncio.StreamWriter(transport, protocol, reader, loop))

    async def send(self, message: dict[str, Any]) -> None:
        from agent_host.isolation import encode_line

        self.writer.write(encode_line(message))
        await self.writer.drain()

    async def call(self, op: str, **fields: Any) -> dict[str, Any]:
        """Send a request to the parent and wait for its reply."""
        ident = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[ident] = future
        await self.send({"op": op, "id": ident, **fields})
        reply = await future
        if "error" in reply:
            from agent_host.isolation import RemoteAgentError

            raise RemoteAgentError.from_body(reply["error"])
        return reply

    async def dispatch_replies(self) -> None:
        """Route the parent's replies to their waiting calls; a closed pipe ends the child."""
        while line := await self.reader.readline():
            reply = json.loads(line)
            future = self._waiting.pop(int(reply["id"]), None)
            if future is not None and not future.done():
                future.set_result(reply)
        os._exit(3)  # the parent is gone: nobody can use a result any more


class _LLMProxy:
    """``context.llm`` inside the child: every call is metered by the parent."""

    def __init__(self, channel: _Channel) -> None:
        self._channel = channel

    async def generate(self, request: Any) -> Any:
        import dataclasses

        from ideamine.agents import GeneratedContent

        reply = await self._channel.call("generate", request=dataclasses.asdict(request))
        return GeneratedContent(**reply["result"])


def _apply_limits(limits: dict[str, int]) -> None:
    memory = int(limits["memory_bytes"])
    cpu = int(limits["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))


def _agent_class(spec: dict[str, str]) -> Any:
    obj: Any = importlib.import_module(spec["module"])
    for part in spec["qualname"].split("."):
        obj = getattr(obj, part)
    return obj


async def _run(channel: _Channel) -> None:
    init = json.loads(await channel.reader.readline())
    sys.path[:] = init["sys_path"]
    _apply_limits(init["limits"])
    from agent_host.isolation import decode_context, decode_task_info, error_body

    replies = asyncio.create_task(channel.dispatch_replies())
    try:
        agent = _agent_class(init["agent"])()

        async def heartbeat() -> None:
            await channel.call("heartbeat")

        context = decode_context(init["context"], llm=_LLMProxy(channel), heartbeat=heartbeat)
        produced = await agent.run(context, decode_task_info(init["task"]))
        await channel.send({"op": "result", "artifacts": [_artifact(a) for a in produced]})
    except MemoryError:
        await channel.send(
            {
                "op": "error",
                "error": {
                    "reason": "AGENT_ERROR",
                    "retryable": False,
                    "message": f"the agent exceeded its memory limit ({init['limits']['memory_bytes']} bytes)",
                },
            }
        )
    except Exception as exc:
        await channel.send({"op": "error", "error": error_body(exc)})
    finally:
        replies.cancel()


def _artifact(a: Any) -> dict[str, Any]:
    return {
        "type": a.type,
        "content": a.content,
        "model": a.model,
        "input_artifact_ids": list(a.input_artifact_ids),
    }


async def _main() -> None:
    rfd, wfd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # print() in agent code lands on stderr, never on the channel
    channel = await _Channel.open(rfd, wfd, limit=256 * 1024 * 1024)
    await _run(channel)


if __name__ == "__main__":
    asyncio.run(_main())
