"""``--isolation process``: each agent task in a child process with resource limits.

For untrusted plugins. The worker stays in charge of everything that must be trusted —
the task lease and heartbeats, the metered model client (budget reservation, breaker,
``llm_calls`` rows, schema repair), validation and the commit — and only the agent's own
code runs in the child::

    parent (TaskWorker)                              child (python -I isolation_child.py)
    ProcessRunner ──init: sys.path, limits,────────► set RLIMIT_AS / RLIMIT_CPU, import the
                  agent class, context, task         agent class, rebuild the context
                ◄──generate(request)──────────────── context.llm.generate (a proxy)
    MeteredLLM.generate ──reply(result | error)────►
                ◄──heartbeat───────────────────────── context.heartbeat (a proxy)
                ◄──result(artifacts) | error(body)─── agent.run(...) returned / raised

Why this shape: the model call is metered by the parent, so an agent cannot spend
outside its budget or skip the ledger, and a child killed by its CPU limit leaves no
half-settled reservation behind. The channel is the child's stdin/stdout (one JSON
object per line); the child moves its own stdout to stderr first, so an agent's
``print`` cannot corrupt it.

The child's environment holds only the variables the agent class declares in an
optional ``env: tuple[str, ...]`` attribute (``agent_host.config.agent_environment``);
database URLs, API keys and tokens never reach it. ``python -I`` ignores ``PYTHON*``
variables and the user site; the import path arrives in the init message instead.

What this is not: a filesystem or network sandbox. The child runs as the host's user and
can read what that user can; run hosts for untrusted plugins in their own container.
A fresh interpreter per task costs about half a second of start-up (imports), which a
model call of several seconds dwarfs but an offline no-op agent does not.

Errors cross the boundary as ``encode_task_error`` bodies (reason, retryable, message)
and are raised again as :class:`RemoteAgentError`, which encodes to the same body — so
the engine heals an isolated task exactly as it heals an in-process one.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import signal
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from agent_host.config import agent_environment
from ideamine.agents import AgentContext, Artifact, BudgetLeft, TaskInfo
from ideamine.errors import AgentError, IdeaMineError, PluginError, encode_task_error
from ideamine.llm.base import LLMRequest
from ideamine.plugins import AgentEntry

__all__ = [
    "CHILD_SCRIPT",
    "LINE_LIMIT",
    "ProcessRunner",
    "RemoteAgentError",
    "ResourceLimits",
    "decode_context",
    "decode_line",
    "encode_context",
    "encode_line",
    "error_body",
]

#: the child's entry script (run by path so nothing but the stdlib loads before sys.path is set)
CHILD_SCRIPT = Path(__file__).with_name("isolation_child.py")
#: longest message line either side accepts (contexts carry every upstream artifact)
LINE_LIMIT = 256 * 1024 * 1024
#: the context fields that are live objects, re-created on the child's side
_LIVE_FIELDS = frozenset({"llm", "heartbeat", "cancelled"})


@dataclass(frozen=True)
class ResourceLimits:
    """Limits applied by the child to itself before it imports any agent code.

    Attributes:
        memory_bytes: address-space limit (RLIMIT_AS); allocations past it raise MemoryError.
        cpu_seconds: CPU-time limit (RLIMIT_CPU); past it the kernel sends SIGXCPU.
    """

    memory_bytes: int
    cpu_seconds: int


class RemoteAgentError(IdeaMineError):
    """A failure reported by the other side of the pipe, with its reason and retryable flag."""

    def __init__(self, reason: str, message: str, *, retryable: bool) -> None:
        super().__init__(message, retryable=retryable)
        self.reason = reason

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> RemoteAgentError:
        """Rebuild from an :func:`error_body` dict."""
        return cls(str(body["reason"]), str(body["message"]), retryable=bool(body["retryable"]))


def error_body(exc: BaseException) -> dict[str, Any]:
    """``{reason, retryable, message}`` of an exception, as the store records it."""
    body: dict[str, Any] = json.loads(encode_task_error(exc))
    return body


# -- the wire format ----------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode_line(message: Mapping[str, Any]) -> bytes:
    """One message as one line of UTF-8 JSON."""
    return json.dumps(message, default=_json_default, ensure_ascii=False).encode("utf-8") + b"\n"


def decode_line(line: bytes) -> dict[str, Any]:
    """The message of one line."""
    message: dict[str, Any] = json.loads(line)
    return message


def encode_context(context: AgentContext) -> dict[str, Any]:
    """The data fields of an agent context (its live objects are re-created by the child)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(AgentContext):
        if f.name in _LIVE_FIELDS:
            continue
        value = getattr(context, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = dataclasses.asdict(value)
        out[f.name] = value
    return out


def decode_task_info(data: Mapping[str, Any]) -> TaskInfo:
    """Inverse of ``dataclasses.asdict`` on a :class:`TaskInfo` sent over the pipe."""
    deadline = data.get("deadline")
    return TaskInfo(**{**data, "deadline": datetime.fromisoformat(deadline) if deadline else None})


def decode_context(data: Mapping[str, Any], **live: Any) -> AgentContext:
    """Rebuild a context from :func:`encode_context` output plus its live objects (``llm``, ``heartbeat``)."""
    kwargs: dict[str, Any] = dict(live)
    for f in dataclasses.fields(AgentContext):
        if f.name not in data:
            continue
        value = data[f.name]
        if f.name == "info":
            value = decode_task_info(value)
        elif f.name == "budget_left":
            value = BudgetLeft(**value)
        elif isinstance(f.default, tuple):
            value = tuple(value)
        kwargs[f.name] = value
    return AgentContext(**kwargs)


def decode_request(data: Mapping[str, Any]) -> LLMRequest:
    """An :class:`LLMRequest` sent by the child."""
    return LLMRequest(**{**data, "repair_errors": tuple(data.get("repair_errors", ()))})


def decode_artifact(data: Mapping[str, Any]) -> Artifact:
    """An :class:`Artifact` returned by the child."""
    return Artifact(
        type=str(data["type"]),
        content=dict(data["content"]),
        model=str(data["model"]),
        input_artifact_ids=tuple(data.get("input_artifact_ids", ())),
    )


# -- the parent side ----------------------------------------------------------------------


def _importable(entry: AgentEntry) -> tuple[str, str]:
    cls = entry.cls
    module, qualname = str(cls.__module__), str(cls.__qualname__)
    if module == "__main__" or "<locals>" in qualname:
        raise PluginError(
            f"agent {entry.name!r} ({module}.{qualname}) cannot run isolated: "
            "its class must be importable by module path",
            plugin=entry.plugin,
        )
    return module, qualname


def _declared_env(entry: AgentEntry) -> tuple[str, ...]:
    names = getattr(entry.cls, "env", ())
    if not isinstance(names, tuple | list) or not all(isinstance(n, str) and n for n in names):
        raise PluginError(f"agent {entry.name!r}: env must be a tuple of variable names", plugin=entry.plugin)
    return tuple(names)


class ProcessRunner:
    """An :data:`~agent_host.worker.AgentRunner` that runs each task in a fresh child process.

    Args:
        limits: resource limits of every child.
        environ: builds a child's environment from the names its agent declares.
        python: interpreter of the child (this one by default).
    """

    def __init__(
        self,
        *,
        limits: ResourceLimits,
        environ: Callable[[Iterable[str]], dict[str, str]] = agent_environment,
        python: str = sys.executable,
    ) -> None:
        self.limits = limits
        self._environ = environ
        self._python = python

    async def __call__(self, entry: AgentEntry, context: AgentContext, info: TaskInfo) -> list[Artifact]:
        """Run ``entry``'s agent on ``info`` in a child; cancelling kills the child."""
        module, qualname = _importable(entry)
        proc = await asyncio.create_subprocess_exec(
            self._python,
            "-I",
            str(CHILD_SCRIPT),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=self._environ(_declared_env(entry)),
            limit=LINE_LIMIT,
        )
        try:
            init = {
                "op": "init",
                "sys_path": list(sys.path),
                "limits": dataclasses.asdict(self.limits),
                "agent": {"module": module, "qualname": qualname},
                "context": encode_context(context),
                "task": dataclasses.asdict(info),
            }
            await _send(proc, init)
            return await self._serve(proc, entry, context)
        finally:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()

    async def _serve(
        self, proc: asyncio.subprocess.Process, entry: AgentEntry, context: AgentContext
    ) -> list[Artifact]:
        assert proc.stdout is not None
        calls: set[asyncio.Task[None]] = set()
        try:
            while line := await proc.stdout.readline():
                message = decode_line(line)
                op = message.get("op")
                if op == "result":
                    return [decode_artifact(a) for a in message["artifacts"]]
                if op == "error":
                    raise RemoteAgentError.from_body(message["error"])
                if op in ("generate", "heartbeat"):
                    call = asyncio.create_task(_answer(proc, context, message))
                    calls.add(call)
                    call.add_done_callback(calls.discard)
                    continue
                raise AgentError(f"isolated agent {entry.name!r} sent an unknown message {op!r}")
            raise self._died(entry, await proc.wait())
        finally:
            for call in calls:
                call.cancel()

    def _died(self, entry: AgentEntry, returncode: int) -> AgentError:
        """The error for a child that ended without reporting a result."""
        if returncode in (-signal.SIGXCPU, -signal.SIGKILL):
            return AgentError(
                f"agent {entry.name!r} exceeded its CPU-time limit ({self.limits.cpu_seconds}s) "
                "and was stopped",
                retryable=False,
            )
        how = f"signal {signal.Signals(-returncode).name}" if returncode < 0 else f"exit code {returncode}"
        return AgentError(
            f"isolated agent {entry.name!r} died ({how}) before returning a result", retryable=True
        )


async def _send(proc: asyncio.subprocess.Process, message: Mapping[str, Any]) -> None:
    assert proc.stdin is not None
    proc.stdin.write(encode_line(message))
    await proc.stdin.drain()


async def _answer(
    proc: asyncio.subprocess.Process, context: AgentContext, message: Mapping[str, Any]
) -> None:
    """Serve one child request with the parent's own (trusted) context and reply."""
    reply: dict[str, Any] = {"op": "reply", "id": message["id"]}
    try:
        if message["op"] == "generate":
            generated = await context.llm.generate(decode_request(message["request"]))
            reply["result"] = {
                "content": generated.content,
                "model": generated.model,
                "provider": generated.provider,
                **{
                    k: getattr(generated, k, 0)
                    for k in ("calls", "input_tokens", "output_tokens", "cost_usd")
                },
            }
        else:
            await context.heartbeat()
    except Exception as exc:  # every failure goes back to the agent, which may handle it
        reply["error"] = error_body(exc)
    with contextlib.suppress(ConnectionError):  # the child is gone; _serve reports why
        await _send(proc, reply)
