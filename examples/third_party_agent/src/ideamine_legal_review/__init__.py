"""An example third-party IdeaMine plugin: the legal-review agent of the critique phase."""

from ideamine_legal_review.agent import LegalReviewAgent

__all__ = ["LegalReviewAgent"]
