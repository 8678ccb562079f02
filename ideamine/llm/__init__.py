"""The LLM layer: the only package that talks to a model.

Providers (``anthropic``, ``offline``, ``replay``) implement :class:`LLMProvider`;
agents never see a provider directly, only the metered client handed to them in their
context, which reserves budget, validates output against the artifact schema, repairs
and records usage.
"""

from ideamine.llm.base import LLMProvider, LLMRequest, LLMResult

__all__ = ["LLMProvider", "LLMRequest", "LLMResult"]
