"""The module the ``ideamine.agents`` entry point names: it registers the agent class."""

from __future__ import annotations

from typing import Any

from ideamine import hookimpl
from ideamine_legal_review.agent import LegalReviewAgent


@hookimpl
def ideamine_register_agents() -> list[type[Any]]:
    """Register the legal-review agent."""
    return [LegalReviewAgent]
