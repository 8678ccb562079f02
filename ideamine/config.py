"""Configuration from the environment: the only module that reads ``os.environ``.

Each function builds a validated, frozen settings object; everything else receives
settings as arguments. Secrets are read here, at use time, and never logged.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import TYPE_CHECKING

from ideamine.errors import InvalidInput

if TYPE_CHECKING:  # the SDK import is slow; commands that never call a model skip it
    from ideamine.llm.anthropic_provider import AnthropicConfig
    from ideamine.tracing import TracingSettings

__all__ = [
    "EVENT_LOOPS",
    "anthropic_config_from_env",
    "event_loop_from_env",
    "orchestrator_address_from_env",
    "tracing_settings_from_env",
]

#: the event loops a process can run on (``IDEAMINE_EVENT_LOOP``; unset: uvloop where installed)
EVENT_LOOPS = ("uvloop", "asyncio")


def anthropic_config_from_env() -> AnthropicConfig:
    """Settings of the Anthropic provider from ``ANTHROPIC_API_KEY`` (+ optional base URL/model).

    Raises:
        InvalidInput: no API key is set (the offline model needs none).
    """
    from ideamine.llm.anthropic_provider import AnthropicConfig

    key = os.environ.get("ANTHROPIC_API_KEY", "").strip()
    if not key:
        raise InvalidInput(
            "--model anthropic needs ANTHROPIC_API_KEY in the environment (or use the default offline model)",
            field="ANTHROPIC_API_KEY",
        )
    config = AnthropicConfig(api_key=key)
    if base := os.environ.get("ANTHROPIC_BASE_URL", "").strip():
        config = replace(config, base_url=base)
    if model := os.environ.get("IDEAMINE_ANTHROPIC_MODEL", "").strip():
        config = replace(config, model=model)
    return config


def orchestrator_address_from_env(default: str = "127.0.0.1:50051") -> str:
    """Where clients find the orchestrator: ``IDEAMINE_ORCHESTRATOR_ADDR`` or ``default``."""
    return os.environ.get("IDEAMINE_ORCHESTRATOR_ADDR", "").strip() or default


def event_loop_from_env() -> str | None:
    """``IDEAMINE_EVENT_LOOP``: one of :data:`EVENT_LOOPS`, or None when unset (the default).

    Raises:
        InvalidInput: any other value.
    """
    value = os.environ.get("IDEAMINE_EVENT_LOOP", "").strip().lower()
    if not value:
        return None
    if value not in EVENT_LOOPS:
        raise InvalidInput(
            f"IDEAMINE_EVENT_LOOP must be one of {', '.join(EVENT_LOOPS)}, not {value!r}",
            field="IDEAMINE_EVENT_LOOP",
        )
    return value


def tracing_settings_from_env(service_name: str, *, embedded: bool) -> TracingSettings:
    """OpenTelemetry settings from the standard ``OTEL_*`` variables (rules in :mod:`ideamine.tracing`).

    Raises:
        InvalidInput: an unknown exporter or OTLP protocol.
    """
    from ideamine.tracing import settings_from_environ

    return settings_from_environ(os.environ, service_name=service_name, embedded=embedded)
