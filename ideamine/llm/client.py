"""The metered LLM client: what an agent gets in its context.

Agents never hold a provider. They call :meth:`MeteredLLM.generate`, which for every
model call

1. reserves the worst case (estimated input + ``max_tokens``, priced) on the task's
   budget scope — :class:`~ideamine.errors.BudgetExceeded` propagates before any
   request is sent, and the engine pauses the run;
2. calls the provider through the provider/model circuit breaker;
3. settles the actual usage (zero, or what is known, when the call failed) — the store
   records threshold crossings — and writes an ``llm_calls`` row;

and then validates the content against the artifact schema, feeding the errors back
for up to ``max_repairs`` repair tries before giving up with
:class:`~ideamine.errors.LLMOutputInvalid`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ideamine import metrics, tracing
from ideamine.canonical import canonical_json
from ideamine.errors import IdeaMineError, LLMCircuitOpen, LLMOutputInvalid
from ideamine.ids import new_id
from ideamine.llm.base import LLMProvider, LLMRequest, LLMResult
from ideamine.llm.breaker import BreakerRegistry
from ideamine.llm.prices import PriceTable, load_prices
from ideamine.store.base import RunStore
from ideamine.store.records import LLMCallRecord, Reservation, UsageTotals

__all__ = ["GeneratedArtifact", "MeteredLLM", "Validator", "estimate_input_tokens"]

#: ``validate(artifact_type, content) -> errors`` (empty when valid), e.g. ``ideamine.schemas.validate_artifact``
Validator = Callable[[str, Any], list[str]]

_MAX_ERRORS_IN_MESSAGE = 10


@dataclass(frozen=True)
class GeneratedArtifact:
    """A schema-valid artifact content and what producing it took (repairs included)."""

    content: Any
    model: str
    provider: str
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float


def estimate_input_tokens(request: LLMRequest) -> int:
    """Rough input size: one token per four characters of system, prompt, schema and repair errors."""
    chars = (
        len(request.system)
        + len(request.prompt)
        + len(canonical_json(request.schema).decode("utf-8"))
        + sum(len(e) + 4 for e in request.repair_errors)
    )
    return math.ceil(chars / 4)


def _known_usage(result: LLMResult | None, error: BaseException | None) -> tuple[int, int, float]:
    if result is not None:
        return result.input_tokens, result.output_tokens, result.cost_usd
    if isinstance(error, IdeaMineError):
        d = error.details
        return int(d.get("input_tokens", 0)), int(d.get("output_tokens", 0)), float(d.get("cost_usd", 0.0))
    return 0, 0, 0.0


class MeteredLLM:
    """Budgeted, validated, recorded access to one provider for one agent task.

    Args:
        provider: the model backend.
        store: where reservations, settlements and call rows go; None for pure unit use
            (nothing reserved or recorded).
        scope_id: the budget scope calls reserve on (the task's); None skips reservation.
        run_id, phase, task_id, agent: recorded with every call.
        prices: the price table for worst-case reservations (the shipped one by default).
        breakers: the process-wide breaker registry (a private one by default — pass the
            host's so all clients of a model share one circuit).
        validate: ``validate(artifact_type, content) -> errors``.
        max_repairs: repair tries after the first call (the catalogue's ``schema_repairs``).
        model: the model used when a request names none.
    """

    def __init__(
        self,
        provider: LLMProvider,
        *,
        store: RunStore | None,
        scope_id: str | None,
        run_id: str | None,
        phase: str | None,
        task_id: str | None,
        agent: str,
        validate: Validator,
        prices: PriceTable | None = None,
        breakers: BreakerRegistry | None = None,
        max_repairs: int = 2,
        model: str | None = None,
    ) -> None:
        self.provider = provider
        self._store = store
        self._scope_id = scope_id
        self._run_id = run_id
        self._phase = phase
        self._task_id = task_id
        self._agent = agent
        self._validate = validate
        self._prices = prices or load_prices()
        self._breakers = breakers or BreakerRegistry()
        self._max_repairs = max(0, max_repairs)
        self._model = model
        self._usage = UsageTotals()

    @property
    def usage(self) -> UsageTotals:
        """Everything this client has spent so far (the agent host reports it)."""
        return self._usage

    async def generate(self, request: LLMRequest) -> GeneratedArtifact:
        """Produce a schema-valid artifact content for ``request``.

        Raises:
            BudgetExceeded: the worst case of the next call does not fit the budget.
            LLMCircuitOpen: the provider/model circuit is open.
            LLMRetryable: the provider gave up retrying a transient failure.
            LLMOutputInvalid: still invalid after ``max_repairs`` repairs (lists the errors).
            LLMError: a non-retryable provider refusal.
        """
        if request.model is None and self._model is not None:
            request = dataclasses.replace(request, model=self._model)
        before = self._usage
        errors = list(request.repair_errors)
        tries = self._max_repairs + 1
        for _ in range(tries):
            attempt = dataclasses.replace(request, repair_errors=tuple(errors))
            try:
                result = await self._call(attempt)
            except LLMOutputInvalid as exc:  # unusable response: repair like a schema failure
                errors = [str(e) for e in exc.details.get("errors") or [exc.message]]
                continue
            errors = self._validate(request.artifact_type, result.content)
            if not errors:
                spent = self._usage.minus(before)
                return GeneratedArtifact(
                    content=result.content,
                    model=result.model,
                    provider=result.provider,
                    calls=spent.calls,
                    input_tokens=spent.input_tokens,
                    output_tokens=spent.output_tokens,
                    cost_usd=spent.cost_usd,
                )
        shown = "; ".join(errors[:_MAX_ERRORS_IN_MESSAGE])
        more = (
            f" (+{len(errors) - _MAX_ERRORS_IN_MESSAGE} more)" if len(errors) > _MAX_ERRORS_IN_MESSAGE else ""
        )
        raise LLMOutputInvalid(
            f"{request.artifact_type} output still invalid after {tries} tries: {shown}{more}",
            errors=errors,
            artifact_type=request.artifact_type,
            tries=tries,
        )

    async def _call(self, request: LLMRequest) -> LLMResult:
        """One metered model call: reserve, call through the breaker, settle with the call's record."""
        reservation = await self._reserve(request)
        breaker = self._breakers.get(self.provider.name, request.model or "default")
        span = tracing.start_llm_span(self.provider.name, request.model or "default", self._agent)
        started = time.perf_counter()
        result: LLMResult | None = None
        error: BaseException | None = None
        try:
            result = await breaker.call(lambda: self.provider.complete(request))
            return result
        except BaseException as exc:
            error = exc
            raise
        finally:
            latency_ms = (time.perf_counter() - started) * 1000.0
            self._observe(request, result, error, latency_ms / 1000.0, span)
            metrics.observe_circuit(self.provider.name, request.model or "default", breaker.state.value)
            in_t, out_t, cost = _known_usage(result, error)
            called = not isinstance(error, LLMCircuitOpen)
            if called:
                self._usage = self._usage.plus(in_t, out_t, cost)
            if self._store is not None:
                record = self._record(request, result, error, latency_ms) if called else None
                if reservation is not None:  # the spend and its call row commit together
                    await self._store.settle(reservation, tokens=in_t + out_t, usd=cost, call=record)
                elif record is not None:
                    await self._store.record_llm_call(record)

    def _observe(
        self,
        request: LLMRequest,
        result: LLMResult | None,
        error: BaseException | None,
        seconds: float,
        span: tracing.Span,
    ) -> None:
        """Metrics and the span of one call (``ideamine.metrics``, ``ideamine.tracing``)."""
        in_t, out_t, cost = _known_usage(result, error)
        model = result.model if result is not None else (request.model or "unknown")
        reason = None if error is None else str(getattr(error, "reason", type(error).__name__))
        metrics.observe_llm_call(
            provider=self.provider.name,
            model=model,
            agent=self._agent,
            phase=self._phase,
            error_reason=reason,
            input_tokens=in_t,
            output_tokens=out_t,
            cost_usd=cost,
            seconds=seconds,
        )
        tracing.end_llm_span(
            span, model=model, input_tokens=in_t, output_tokens=out_t, cost_usd=cost, error=error
        )

    async def _reserve(self, request: LLMRequest) -> Reservation | None:
        if self._store is None or self._scope_id is None:
            return None
        est = estimate_input_tokens(request)
        price_model = request.model or self.provider.name
        return await self._store.reserve(
            self._scope_id,
            tokens=est + request.max_tokens,
            usd=self._prices.cost(price_model, est, request.max_tokens),
        )

    def _record(
        self, request: LLMRequest, result: LLMResult | None, error: BaseException | None, latency_ms: float
    ) -> LLMCallRecord:
        in_t, out_t, cost = _known_usage(result, error)
        message = None
        if error is not None:
            reason = getattr(error, "reason", type(error).__name__)
            message = f"{reason}: {error}"[:500]
        return LLMCallRecord(
            id=new_id(),
            run_id=self._run_id,
            task_id=self._task_id,
            phase=self._phase,
            agent=self._agent,
            provider=result.provider if result is not None else self.provider.name,
            model=result.model if result is not None else (request.model or "unknown"),
            request_hash=request.request_hash(),
            input_tokens=in_t,
            output_tokens=out_t,
            cost_usd=cost,
            status="ok" if error is None else "error",
            error=message,
            latency_ms=latency_ms,
            created_at=datetime.now(UTC),
        )
