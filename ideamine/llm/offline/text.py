"""Deterministic text helpers of the offline model: tokens, keywords, clauses, numbers.

No NLP library and no model: lower-casing, a stop-word list, frequency ranking and a
small verb lexicon are enough to pull the features, actors and domain nouns out of an
idea written as a few plain sentences, and they behave identically on every machine.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

__all__ = [
    "STOPWORDS",
    "VERBS",
    "tokens",
    "sentences",
    "keywords",
    "singular",
    "verb_base",
    "slug",
    "snake",
    "clip",
    "cap",
    "words",
    "human_list",
    "parse_quantity",
]

STOPWORDS = frozenset(
    """a about above across after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing done down during each either else even ever every few
    for from further get gets had has have having he her here hers him his how i if in into is it its itself
    just least less let like made make many may me might more most much must my near need never no nor not now
    of off on once one only or other our ours out over own per same shall she should since so some such than
    that the their theirs them then there these they this those through to too under until up upon us use used
    uses using very via was we were what when where whether which while who whom whose why will with within
    without would yet you your without able well way ways want wants within across lot lots new kind sure
    really thing things something anything everything time times day days week weeks""".split()
)

#: base forms of verbs that start a feature clause ("users *capture* tasks", "the app *syncs*")
VERBS = frozenset(
    """access add alert analyse analyze annotate approve archive assign audit book browse build calculate
    capture chat collaborate comment compare complete configure connect create customise customize define
    delete deploy detect display download drill edit estimate export filter find flag follow generate group
    import ingest integrate invite keep label learn list log manage mark measure monitor notify order organise
    organize pay plan predict prioritise prioritize process protect publish rate read receive recommend record
    remind reorder report request reschedule restore review run save schedule search see sell send set share
    show sign snooze sort store submit subscribe summarise summarize support switch sync tag test trace track
    transcribe translate update upload view visualise visualize watch write""".split()
)

_WORD = re.compile(r"[a-z0-9][a-z0-9'\-]*")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_QUANTITY = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s*(k|m|thousand|million)?\b", re.IGNORECASE)


def tokens(text: str) -> list[str]:
    """Lower-case word tokens (hyphenated words kept whole, trailing apostrophes dropped)."""
    return [t.rstrip("'-").removesuffix("'s") for t in _WORD.findall(text.lower())]


def words(text: str) -> set[str]:
    """The set of singular content tokens of ``text`` (for overlap tests)."""
    return {singular(t) for t in tokens(text) if t not in STOPWORDS}


def sentences(text: str) -> list[str]:
    """Sentences of ``text``, whitespace-normalised, without empty ones."""
    return [" ".join(s.split()) for s in _SENTENCE_END.split(text) if s.strip()]


def singular(word: str) -> str:
    """A naive singular: ``studies → study``, ``tasks → task``; leaves ``status``/``analysis`` alone."""
    if len(word) <= 3 or word.endswith(("ss", "us", "is", "ics")):
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


def verb_base(word: str) -> str | None:
    """The base form of ``word`` when it is a known verb (``flags → flag``, ``watches → watch``)."""
    w = word.lower()
    for candidate in (w, w[:-1] if w.endswith("s") else "", w[:-2] if w.endswith("es") else ""):
        if candidate in VERBS:
            return candidate
    return None


def keywords(text: str, n: int = 12, *, exclude: Iterable[str] = ()) -> list[str]:
    """The ``n`` most frequent singular content words; ties keep first-occurrence order."""
    skip = set(exclude)
    toks = [singular(t) for t in tokens(text) if t not in STOPWORDS and len(t) > 2 and not t[0].isdigit()]
    counts = Counter(t for t in toks if t not in skip)
    first = {t: i for i, t in reversed(list(enumerate(toks)))}
    return sorted(counts, key=lambda t: (-counts[t], first[t]))[:n]


def slug(text: str, sep: str = "-") -> str:
    """``"Sync engine (offline)" → "sync-engine-offline"``."""
    return sep.join(t for t in re.split(r"[^a-z0-9]+", text.lower()) if t) or "item"


def snake(text: str) -> str:
    """``"Alert rule" → "alert_rule"``."""
    return slug(text, "_")


def clip(text: str, limit: int) -> str:
    """``text`` shortened to ``limit`` characters at a word boundary, with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


def cap(text: str) -> str:
    """First letter upper-case, the rest untouched."""
    return text[:1].upper() + text[1:]


def human_list(items: Iterable[str], conj: str = "and") -> str:
    """``["a", "b", "c"] → "a, b and c"``."""
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conj} {items[-1]}"


def parse_quantity(raw: str, suffix: str | None) -> float:
    """``("10", "k") → 10000.0``; ``("1,500", None) → 1500.0``."""
    value = float(raw.replace(",", ""))
    scale = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6}.get((suffix or "").lower(), 1.0)
    return value * scale


def quantities(text: str) -> list[tuple[float, str]]:
    """Every number in ``text`` with the word that follows it: ``[(500.0, "sensors"), ...]``."""
    found: list[tuple[float, str]] = []
    for m in _QUANTITY.finditer(text):
        rest = tokens(text[m.end() : m.end() + 40])
        found.append((parse_quantity(m.group(1), m.group(2)), rest[0] if rest else ""))
    return found
