"""The offline model: deterministic, schema-valid, idea-specific artifacts without any network.

Not canned output: every artifact is built from the request context — the idea's own
clauses become requirements and use cases, detected domain signals (health, IoT, payments,
multi-tenancy, offline, ML, ...) and compliance regimes shape components, threats, controls
and NFRs, and each later artifact references the ids of the upstream ones it was given (or
that the same generators would produce), so an offline run passes its gates.

Modules: :mod:`.text` (tokens, keywords, clauses), :mod:`.catalog` (domain tables),
:mod:`.analysis` (the idea analysis), :mod:`.ctx` (context + seeded RNG), :mod:`.registry`
(type → generator, schema fit), generators by phase group (:mod:`.early`, :mod:`.product`,
:mod:`.engineering`, :mod:`.security`, :mod:`.delivery`, :mod:`.release`), and
:mod:`.provider` (the :class:`OfflineProvider`).
"""

from ideamine.llm.offline.provider import OFFLINE_MODEL, OfflineProvider, estimate_tokens
from ideamine.llm.offline.registry import generate, supported_types

__all__ = ["OFFLINE_MODEL", "OfflineProvider", "estimate_tokens", "generate", "supported_types"]
