"""Record model answers to a cassette, and replay them for exact reruns.

A cassette is a JSON Lines file; each line is one answered request::

    {"request_hash": "<sha256>", "request": {agent, phase, artifact_type, model, ...},
     "result": {content, provider, model, input_tokens, output_tokens, cost_usd, request_id, extra}}

:class:`RecordingProvider` wraps a real provider and appends a line per answer;
:class:`ReplayProvider` answers from the file by :meth:`LLMRequest.request_hash`, with
the recorded content, tokens, cost, model and provider name (plus ``extra["replay"]``).
A request the cassette does not hold raises :class:`~ideamine.errors.ReplayMiss` —
never a silent fallback to a live model, because a replay that quietly diverges is
worse than one that stops.

When the same request was recorded several times (a rerun of an identical task), the
answers are replayed in recorded order and the last one repeats.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ideamine.canonical import canonical_json, sha256_hex
from ideamine.errors import InvalidInput, ReplayMiss
from ideamine.llm.base import LLMProvider, LLMRequest, LLMResult

__all__ = ["RecordingProvider", "ReplayProvider", "cassette_line"]


def _request_summary(request: LLMRequest) -> dict[str, Any]:
    """What a human reading a cassette needs to tell requests apart (not used for lookup)."""
    return {
        "agent": request.agent,
        "phase": request.phase,
        "artifact_type": request.artifact_type,
        "model": request.model,
        "max_tokens": request.max_tokens,
        "repair_errors": list(request.repair_errors),
        "prompt_sha256": sha256_hex(request.prompt),
    }


def _result_to_json(result: LLMResult) -> dict[str, Any]:
    return {
        "content": result.content,
        "provider": result.provider,
        "model": result.model,
        "input_tokens": result.input_tokens,
        "output_tokens": result.output_tokens,
        "cost_usd": result.cost_usd,
        "request_id": result.request_id,
        "extra": dict(result.extra),
    }


def cassette_line(request: LLMRequest, result: LLMResult) -> bytes:
    """One cassette line (canonical JSON plus newline) for an answered request."""
    record = {
        "request_hash": request.request_hash(),
        "request": _request_summary(request),
        "result": _result_to_json(result),
    }
    return canonical_json(record) + b"\n"


class RecordingProvider:
    """Wrap ``inner`` and append every answer it gives to the cassette at ``path``.

    Failures are not recorded: a replay must reproduce what the run accepted or
    repaired, and an error has no answer to replay.
    """

    def __init__(self, inner: LLMProvider, path: str | Path) -> None:
        self.inner = inner
        self.name = inner.name
        self.path = Path(path)
        self._lock = asyncio.Lock()

    async def complete(self, request: LLMRequest) -> LLMResult:
        """Answer through the wrapped provider, then append the answer to the cassette."""
        result = await self.inner.complete(request)
        line = cassette_line(request, result)
        async with self._lock:
            await asyncio.to_thread(self._append, line)
        return result

    def _append(self, line: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as f:
            f.write(line)

    async def aclose(self) -> None:
        """Close the wrapped provider."""
        await self.inner.aclose()


class ReplayProvider:
    """Answer requests from a recorded cassette, exactly as they were first answered.

    Args:
        path: the cassette (JSON Lines). It is read once, here.

    Raises:
        InvalidInput: the cassette is missing or a line is malformed (names the line).
    """

    name = "replay"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._answers: dict[str, list[Mapping[str, Any]]] = {}
        self._served: dict[str, int] = {}
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(
                f"cannot read cassette {self.path}: {exc.strerror}", field="llm.provider"
            ) from None
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                key, result = str(record["request_hash"]), record["result"]
                if not isinstance(result, Mapping):
                    raise TypeError("result is not an object")
            except (ValueError, KeyError, TypeError) as exc:
                raise InvalidInput(
                    f"cassette {self.path} line {n} is malformed: {exc}", field="llm.provider"
                ) from None
            self._answers.setdefault(key, []).append(result)

    def __len__(self) -> int:
        """Number of recorded answers."""
        return sum(len(v) for v in self._answers.values())

    async def complete(self, request: LLMRequest) -> LLMResult:
        """The recorded answer to ``request``.

        Raises:
            ReplayMiss: the cassette holds no answer for this request hash.
        """
        key = request.request_hash()
        answers = self._answers.get(key)
        if not answers:
            raise ReplayMiss(
                f"cassette {self.path.name} has no answer for a {request.artifact_type!r} request "
                f"(agent {request.agent!r}, hash {key})",
                artifact_type=request.artifact_type,
                request_hash=key,
                cassette=str(self.path),
            )
        served = self._served.get(key, 0)
        self._served[key] = served + 1
        r = answers[min(served, len(answers) - 1)]
        return LLMResult(
            content=r["content"],
            provider=str(r["provider"]),
            model=str(r["model"]),
            input_tokens=int(r["input_tokens"]),
            output_tokens=int(r["output_tokens"]),
            cost_usd=float(r["cost_usd"]),
            request_id=r.get("request_id"),
            extra={**dict(r.get("extra") or {}), "replay": True},
        )

    async def aclose(self) -> None:
        """Nothing to release."""
