"""The IdeaMine error tree.

::

    IdeaMineError                     base; ``retryable`` says whether trying again can help
    ├── InvalidInput                  bad input from a caller (field + reason); never retryable
    │   └── CatalogError              the phase catalogue or a run file is malformed
    ├── NotFound                      a run, task, artifact … does not exist (or is another tenant's)
    ├── Conflict                      a guarded update lost: wrong status, stale attempt, closed question
    │   └── StaleAttempt              a fenced worker tried to write an older attempt's result
    ├── PermissionDenied              authenticated, but the role does not allow it
    ├── Unauthenticated               no or bad credentials
    ├── BudgetExceeded                a reservation would overshoot a budget scope
    ├── QueueFull                     publishing refused: stream at its configured maximum length
    ├── StoreUnavailable              the database connection was lost (retryable, nothing half-written)
    ├── QueueUnavailable              the queue backend was unreachable (retryable)
    ├── PluginError                   a plugin failed to load or declared itself wrongly (names the plugin)
    ├── LLMError                      a model call failed
    │   ├── LLMRetryable              429/529/5xx/timeouts: retried with backoff
    │   ├── LLMCircuitOpen            the breaker for this provider/model is open
    │   ├── LLMOutputInvalid          output failed the artifact schema after the repair attempts
    │   └── ReplayMiss                the replay cassette has no entry for this request
    └── AgentError                    an agent failed its task (``retryable`` decides heal vs fail)

Expected errors are instances of this tree; anything else is a bug and is reported as
INTERNAL without its message (see ``ideamine.rpc.status``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "IdeaMineError",
    "FieldViolation",
    "InvalidInput",
    "CatalogError",
    "NotFound",
    "Conflict",
    "StaleAttempt",
    "PermissionDenied",
    "Unauthenticated",
    "BudgetExceeded",
    "QueueFull",
    "StoreUnavailable",
    "QueueUnavailable",
    "PluginError",
    "LLMError",
    "LLMRetryable",
    "LLMCircuitOpen",
    "LLMOutputInvalid",
    "ReplayMiss",
    "AgentError",
]


@dataclass(frozen=True)
class FieldViolation:
    """One offending input field, as in ``google.rpc.BadRequest.FieldViolation``."""

    field: str
    description: str


class IdeaMineError(Exception):
    """Base of every expected IdeaMine error.

    Attributes:
        message: human-readable, safe to show to a caller (never secrets or tracebacks).
        retryable: whether the same operation may succeed if tried again.
        details: structured context (run_id, phase, task_id, ...), safe to log.
    """

    retryable: bool = False
    reason: str = "IDEAMINE_ERROR"

    def __init__(self, message: str, *, retryable: bool | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if retryable is not None:
            self.retryable = retryable
        self.details: dict[str, Any] = details

    def __str__(self) -> str:
        return self.message


class InvalidInput(IdeaMineError):
    """A caller sent something we refuse; ``violations`` names each bad field."""

    reason = "INVALID_ARGUMENT"

    def __init__(
        self,
        message: str,
        *,
        violations: list[FieldViolation] | None = None,
        field: str | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message, **details)
        vs = list(violations or [])
        if field is not None and not vs:
            vs.append(FieldViolation(field, message))
        self.violations: list[FieldViolation] = vs


class CatalogError(InvalidInput):
    """The phase catalogue or a run file is malformed."""

    reason = "CATALOG_INVALID"


class NotFound(IdeaMineError):
    """The named object does not exist, or belongs to another tenant."""

    reason = "NOT_FOUND"


class Conflict(IdeaMineError):
    """A guarded update found the object in another state than expected."""

    reason = "FAILED_PRECONDITION"


class StaleAttempt(Conflict):
    """A worker holding an older attempt tried to write; it has been fenced off."""

    reason = "STALE_ATTEMPT"


class PermissionDenied(IdeaMineError):
    """The caller's role does not allow the operation."""

    reason = "PERMISSION_DENIED"


class Unauthenticated(IdeaMineError):
    """Missing, expired or invalid credentials."""

    reason = "UNAUTHENTICATED"


class BudgetExceeded(IdeaMineError):
    """A reservation would take a budget scope past its limit."""

    reason = "BUDGET_EXHAUSTED"


class QueueFull(IdeaMineError):
    """Back-pressure: the task stream is at its configured maximum length."""

    reason = "QUEUE_FULL"
    retryable = True


class StoreUnavailable(IdeaMineError):
    """The database could not be reached; the transaction was rolled back."""

    reason = "STORE_UNAVAILABLE"
    retryable = True


class QueueUnavailable(IdeaMineError):
    """The queue backend could not be reached."""

    reason = "QUEUE_UNAVAILABLE"
    retryable = True


class PluginError(IdeaMineError):
    """A plugin failed to load, or declared an agent wrongly."""

    reason = "PLUGIN_ERROR"

    def __init__(self, message: str, *, plugin: str, **details: Any) -> None:
        super().__init__(f"plugin {plugin!r}: {message}", plugin=plugin, **details)
        self.plugin = plugin


class LLMError(IdeaMineError):
    """A model call failed."""

    reason = "LLM_ERROR"


class LLMRetryable(LLMError):
    """A transient model failure (rate limit, overload, server error, timeout)."""

    reason = "LLM_UNAVAILABLE"
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **details: Any) -> None:
        super().__init__(message, **details)
        self.retry_after = retry_after


class LLMCircuitOpen(LLMError):
    """The circuit breaker for a provider/model is open; calls are refused for now."""

    reason = "LLM_CIRCUIT_OPEN"
    retryable = True


class LLMOutputInvalid(LLMError):
    """The model's output failed the artifact schema after every repair attempt."""

    reason = "LLM_OUTPUT_INVALID"
    retryable = True


class ReplayMiss(LLMError):
    """The replay cassette holds no response for this request."""

    reason = "REPLAY_MISS"


class AgentError(IdeaMineError):
    """An agent failed its task."""

    reason = "AGENT_ERROR"


def encode_task_error(exc: BaseException) -> str:
    """Serialise a task failure for the store: reason, retryable flag and message.

    The engine's Heal step decides from the *reason* and *retryable* fields, never by
    matching message text.
    """
    import json

    if isinstance(exc, IdeaMineError):
        body = {"reason": exc.reason, "retryable": exc.retryable, "message": exc.message}
    elif isinstance(exc, TimeoutError):
        body = {"reason": "TASK_TIMEOUT", "retryable": True, "message": "the task exceeded its deadline"}
    else:
        body = {
            "reason": "AGENT_CRASHED",
            "retryable": True,
            "message": f"{type(exc).__name__}: {exc}"[:2000],
        }
    return json.dumps(body, sort_keys=True)


def decode_task_error(text: str | None) -> tuple[str, bool, str]:
    """Inverse of :func:`encode_task_error`: (reason, retryable, message); tolerant of plain text."""
    import json

    if not text:
        return ("UNKNOWN", False, "")
    try:
        body = json.loads(text)
        return (str(body["reason"]), bool(body["retryable"]), str(body["message"]))
    except (ValueError, KeyError, TypeError):
        return ("UNKNOWN", False, text)
