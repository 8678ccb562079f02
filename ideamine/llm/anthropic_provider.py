"""The Anthropic provider: structured output through a forced tool call.

Each request becomes one Messages API call with a single tool named after the artifact
type whose ``input_schema`` is the artifact's JSON Schema, and ``tool_choice`` forcing
that tool — so the model's answer *is* the artifact's content (validated afterwards by
the metered client). Retries follow :mod:`ideamine.llm.retry`; the SDK's own retries are
off so every wait is ours to cap, jitter, count and test.

Configuration is passed in (:class:`AnthropicConfig`); this module never reads the
environment, so the API key's only source is the caller's config.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anthropic

from ideamine.errors import LLMError, LLMOutputInvalid, LLMRetryable
from ideamine.llm.base import LLMRequest, LLMResult
from ideamine.llm.prices import PriceTable, load_prices
from ideamine.llm.prompting import data_block
from ideamine.llm.retry import ErrorClass, RetryPolicy, classify_status, parse_retry_after

__all__ = ["AnthropicConfig", "AnthropicProvider", "tool_name_for", "REPAIR_INSTRUCTION"]

#: a current model with a listed price (SDK 2.14 flags claude-sonnet-4-5 as deprecated)
DEFAULT_MODEL = "claude-haiku-4-5"
DEFAULT_BASE_URL = "https://api.anthropic.com"

#: what precedes the validation errors in a repair request
REPAIR_INSTRUCTION = (
    "Your previous answer did not validate against the tool's input schema. Call the tool again "
    "with a complete, corrected input that fixes every one of these validation errors:"
)

_TOOL_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")

Sleep = Callable[[float], Awaitable[None]]


def tool_name_for(artifact_type: str) -> str:
    """The tool name for an artifact type, reduced to the API's ``[a-zA-Z0-9_-]{1,64}``."""
    return _TOOL_UNSAFE.sub("_", artifact_type)[:64] or "artifact"


@dataclass(frozen=True)
class AnthropicConfig:
    """Settings of the Anthropic provider (built by the service's config module).

    Args:
        api_key: the API key (never logged: excluded from ``repr``).
        model: the model used when a request names none.
        base_url: the API root; tests point it at a local server.
        timeout_seconds: per-HTTP-request timeout.
        retry: tries and waits per error class.
    """

    api_key: str = field(repr=False)
    model: str = DEFAULT_MODEL
    base_url: str = DEFAULT_BASE_URL
    timeout_seconds: float = 600.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass
class _Failure:
    kind: ErrorClass
    message: str
    status: int | None = None
    retry_after: float | None = None
    request_id: str | None = None


class AnthropicProvider:
    """:class:`~ideamine.llm.base.LLMProvider` over the Anthropic Messages API.

    Args:
        config: provider settings.
        prices: the price table used for ``cost_usd`` (the shipped one by default).
        sleep: how to wait between retries; injectable so tests can observe the waits.
        rng: the jitter source; seed it for reproducible waits.

    Attributes:
        retries: retries made so far per error class (for metrics).
    """

    name = "anthropic"

    def __init__(
        self,
        config: AnthropicConfig,
        *,
        prices: PriceTable | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self._prices = prices or load_prices()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._client = anthropic.AsyncAnthropic(
            api_key=config.api_key,
            base_url=config.base_url,
            timeout=config.timeout_seconds,
            max_retries=0,
        )
        self.retries: dict[ErrorClass, int] = {ErrorClass.TRANSIENT: 0, ErrorClass.RATE_LIMITED: 0}

    async def aclose(self) -> None:
        """Close the HTTP connection pool (idempotent)."""
        await self._client.close()

    async def complete(self, request: LLMRequest) -> LLMResult:
        """Ask the model for the artifact, retrying transient failures and rate limits.

        Raises:
            LLMRetryable: retries exhausted for a transient or rate-limit failure.
            LLMError: a non-retryable refusal (400, 401/403, 402, 404 ...).
            LLMOutputInvalid: the response had no usable tool call or was not valid JSON.
        """
        model = request.model or self.config.model
        tool = tool_name_for(request.artifact_type)
        params = self._params(request, model, tool)
        failures = {ErrorClass.TRANSIENT: 0, ErrorClass.RATE_LIMITED: 0}
        retried = 0
        while True:
            try:
                message = await self._client.messages.create(**params)
            except Exception as exc:  # noqa: BLE001 - narrowed by _failure, re-raised when unknown
                failure = _failure(exc, request)
            else:
                return self._result(message, request, tool, retried)
            if failure.kind is ErrorClass.FATAL:
                raise LLMError(
                    f"anthropic refused the request ({failure.message})",
                    retryable=False,
                    status=failure.status,
                    request_id=failure.request_id,
                    artifact_type=request.artifact_type,
                )
            failures[failure.kind] += 1
            if failures[failure.kind] >= self.config.retry.max_tries(failure.kind):
                raise LLMRetryable(
                    f"anthropic call failed after {retried + 1} tries: {failure.message}",
                    retry_after=failure.retry_after,
                    status=failure.status,
                    error_class=failure.kind.value,
                    tries=retried + 1,
                    artifact_type=request.artifact_type,
                )
            delay = self.config.retry.delay(
                failure.kind, failures[failure.kind], failure.retry_after, self._rng
            )
            self.retries[failure.kind] += 1
            retried += 1
            await self._sleep(delay)

    def _params(self, request: LLMRequest, model: str, tool: str) -> dict[str, Any]:
        text = request.prompt
        if request.repair_errors:
            errors = "\n".join(f"- {e}" for e in request.repair_errors)
            text = f"{text}\n\n{REPAIR_INSTRUCTION}\n{data_block('validation_errors', errors)}"
        return {
            "model": model,
            "max_tokens": request.max_tokens,
            "system": request.system,
            "messages": [{"role": "user", "content": text}],
            "tools": [
                {
                    "name": tool,
                    "description": f"Record the {request.artifact_type} artifact; the input must follow the schema exactly.",
                    "input_schema": dict(request.schema),
                }
            ],
            "tool_choice": {"type": "tool", "name": tool},
        }

    def _result(self, message: Any, request: LLMRequest, tool: str, retried: int) -> LLMResult:
        usage = getattr(message, "usage", None)
        tokens = {
            k: int(getattr(usage, k, None) or 0)
            for k in (
                "input_tokens",
                "output_tokens",
                "cache_creation_input_tokens",
                "cache_read_input_tokens",
            )
        }
        model = str(getattr(message, "model", None) or request.model or self.config.model)
        cost = self._prices.cost(
            model,
            tokens["input_tokens"],
            tokens["output_tokens"],
            cache_write_tokens=tokens["cache_creation_input_tokens"],
            cache_read_tokens=tokens["cache_read_input_tokens"],
        )
        blocks = getattr(message, "content", None)
        tool_input = None
        for block in blocks if isinstance(blocks, list) else []:
            if getattr(block, "type", None) == "tool_use" and getattr(block, "name", None) == tool:
                tool_input = getattr(block, "input", None)
                break
        if not isinstance(tool_input, dict):
            raise LLMOutputInvalid(
                f"the response to {request.artifact_type!r} has no {tool!r} tool call with an object input",
                errors=[f"answer by calling the {tool} tool with a JSON object"],
                input_tokens=tokens["input_tokens"],
                output_tokens=tokens["output_tokens"],
                cost_usd=cost,
            )
        return LLMResult(
            content=tool_input,
            provider=self.name,
            model=model,
            input_tokens=tokens["input_tokens"],
            output_tokens=tokens["output_tokens"],
            cost_usd=cost,
            request_id=getattr(message, "_request_id", None),
            extra={
                "stop_reason": getattr(message, "stop_reason", None),
                "retries": retried,
                "cache_creation_input_tokens": tokens["cache_creation_input_tokens"],
                "cache_read_input_tokens": tokens["cache_read_input_tokens"],
            },
        )


def _failure(exc: Exception, request: LLMRequest) -> _Failure:
    """Classify an SDK exception; raise LLMOutputInvalid for unreadable bodies, re-raise unknowns."""
    if isinstance(exc, anthropic.APIStatusError):
        return _Failure(
            kind=classify_status(exc.status_code),
            message=f"HTTP {exc.status_code}: {exc.api_message or exc.type or 'error'}",
            status=exc.status_code,
            retry_after=parse_retry_after(exc.response.headers),
            request_id=exc.request_id,
        )
    if isinstance(exc, anthropic.APIConnectionError):  # includes timeouts
        return _Failure(kind=ErrorClass.TRANSIENT, message=type(exc).__name__)
    if isinstance(exc, anthropic.APIResponseValidationError | ValueError | RecursionError):  # nested too deep
        raise LLMOutputInvalid(
            f"the response to {request.artifact_type!r} was not a readable Messages API body",
            errors=["the previous response body was malformed; answer again by calling the tool"],
        ) from exc
    raise exc
