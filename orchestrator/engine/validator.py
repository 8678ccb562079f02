"""V of Q/A/V: deterministic scoring of an answer, so no model grades its own work.

Four scores in [0, 1]:

- grounding: share of the answer's evidence quotes found verbatim in the run's
  artifacts or earlier accepted answers (no evidence → 0);
- completeness: the answer is substantive (enough content words, not a non-answer);
- specificity: concrete detail (numbers, ids, named things) and no hedging;
- consistency: it does not contradict an earlier accepted answer to a similar question.

An answer is accepted when its confidence is at least ``accept_confidence`` and every
score meets its threshold (the catalogue's ``defaults.qav``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["AnswerScores", "score_answer", "accepts"]

_WORD = re.compile(r"[a-z0-9]+")
_HEDGES = frozenset(
    {"maybe", "perhaps", "depends", "unclear", "unknown", "tbd", "various", "possibly", "not", "settle"}
)
_CONCRETE = re.compile(r"\d|\b[A-Z]{2,}-\d{2,3}\b|\b[A-Z][a-z]+[A-Z]|\b[A-Z]{2,}\b")
_STOP = frozenset(
    "the a an of to and or for in on at by with is are be it this that which what how who as from".split()
)


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 2}


@dataclass(frozen=True)
class AnswerScores:
    """The validator's four scores of one answer."""

    grounding: float
    completeness: float
    specificity: float
    consistency: float

    def as_dict(self) -> dict[str, float]:
        """JSON-ready scores."""
        return {
            "grounding": round(self.grounding, 3),
            "completeness": round(self.completeness, 3),
            "specificity": round(self.specificity, 3),
            "consistency": round(self.consistency, 3),
        }


def score_answer(
    question: str,
    answer: Mapping[str, Any],
    *,
    corpus: str,
    accepted: Sequence[tuple[str, str]] = (),
) -> AnswerScores:
    """Score ``answer`` to ``question`` against the run's text ``corpus``.

    Args:
        question: the question text.
        answer: ``{"answer", "confidence", "evidence": [{"source", "quote"}]}``.
        corpus: lower-cased text of every artifact and accepted answer of the run.
        accepted: (question, answer) pairs accepted earlier, for the consistency check.
    """
    text = str(answer.get("answer", ""))
    quotes = [str(e.get("quote", "")) for e in answer.get("evidence", []) if isinstance(e, Mapping)]
    quotes = [q for q in quotes if q.strip()]
    grounding = sum(1 for q in quotes if q.lower() in corpus) / len(quotes) if quotes else 0.0
    content = _words(text)
    completeness = min(1.0, len(content) / 8)
    hedges = len(content & _HEDGES)
    specificity = max(0.0, min(1.0, 0.5 + 0.25 * len(_CONCRETE.findall(text)) - 0.25 * hedges))
    consistency = 1.0
    q_words = _words(question)
    for prev_q, prev_a in accepted:
        pq = _words(prev_q)
        similar = len(q_words & pq) / max(1, len(q_words | pq)) >= 0.6
        if similar and len(content & _words(prev_a)) / max(1, len(content)) < 0.2:
            consistency = 0.5
    return AnswerScores(grounding, completeness, specificity, consistency)


def accepts(scores: AnswerScores, confidence: float, thresholds: Mapping[str, Any]) -> bool:
    """Whether an answer passes: confidence and every score at or above its threshold."""
    limits = thresholds.get("thresholds", {})
    if confidence < float(thresholds.get("accept_confidence", 0.6)):
        return False
    return all(getattr(scores, name) >= float(limit) for name, limit in limits.items())
