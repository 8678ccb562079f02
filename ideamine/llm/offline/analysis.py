"""Idea analysis: everything the offline generators derive from the idea text and constraints.

Built once per idea (cached on the canonical idea JSON) so forty generators do not re-tokenise
the same text. The analysis is deliberately shallow but idea-specific: features come from the
idea's own clauses, so two ideas never yield the same requirements, personas or threats.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ideamine.llm.offline.catalog import ACTOR_WORDS, COMPLIANCE_PATTERNS, ENTITIES, SIGNALS, SYSTEM_WORDS
from ideamine.llm.offline.text import (
    cap,
    keywords,
    quantities,
    sentences,
    singular,
    tokens,
    verb_base,
)

__all__ = ["Feature", "Scale", "Analysis", "analyse", "normalise_regime"]

_MODALS = frozenset("can could should must will may shall".split())
_CONJ = frozenset("and or then so also".split())
_NOT_BEFORE_VERB = frozenset("and or the a an per of with by for to into from their its our any each".split())
_SCALE_VERBS = frozenset({"support", "process", "handle", "serve", "scale"})
_SUBJECT_STARTS = frozenset("the a an each every our their this".split())
_PLURAL_PRONOUNS = frozenset({"they", "we", "you"}) | ACTOR_WORDS
_HEAVY_SIGNALS = frozenset({"iot", "ml", "health", "payments", "multitenant", "realtime", "integration"})
_NAMED_REGIME = re.compile(r"\b(hipaa|gdpr|soc ?2|iso ?27001|pci|fda|510\(k\)|coppa|ccpa)\b|510\(k\)", re.I)
_TIMELINE = re.compile(r"(\d+(?:\.\d+)?)\s*(day|week|month|year)", re.I)
_AVAILABILITY = re.compile(r"(9\d(?:\.\d+)?)\s*%")


@dataclass(frozen=True)
class Feature:
    """One capability clause of the idea, normalised into a requirement."""

    text: str  #: requirement sentence ("The system shall let users capture tasks ...")
    title: str  #: short action phrase ("Capture tasks in a few taps")
    actor: str  #: who acts ("users", "radiologists", "system")
    sentence: int  #: index of the idea sentence it came from


@dataclass(frozen=True)
class Scale:
    """Numbers the idea states (or defaults by complexity)."""

    users: int
    tenants: int
    devices: int
    interval_s: float
    daily_volume: int
    availability: float


@dataclass(frozen=True)
class Analysis:
    """The idea as the generators see it."""

    title: str
    text: str
    summary: str
    features: tuple[Feature, ...]
    actors: tuple[str, ...]
    target_users: tuple[str, ...]
    keywords: tuple[str, ...]
    nouns: tuple[str, ...]  #: domain nouns with a known entity shape, in order of importance
    signals: frozenset[str]
    compliance: tuple[str, ...]
    detected_compliance: tuple[str, ...]
    category: str
    complexity: str
    budget_usd: float
    timeline: str
    timeline_weeks: int
    tech_preferences: tuple[str, ...]
    scale: Scale
    defaults_applied: tuple[tuple[str, str, str], ...]  #: (field, value, reason)

    def has(self, signal: str) -> bool:
        """Whether the idea raised ``signal`` (``"compliance"`` means any regime applies)."""
        return bool(self.compliance) if signal == "compliance" else signal in self.signals

    @property
    def level(self) -> int:
        """0, 1, 2 for low, medium, high complexity: the index into per-complexity sizes."""
        return ("low", "medium", "high").index(self.complexity)

    def size(self, low: int, medium: int, high: int) -> int:
        """The count for this idea's complexity."""
        return (low, medium, high)[self.level]

    @property
    def primary_user(self) -> str:
        """The main user group, plural ("busy professionals ...", "radiologists")."""
        return self.actors[0] if self.actors else "users"

    @property
    def noun(self) -> str:
        """The main domain noun ("task", "sensor", "study")."""
        return self.nouns[0] if self.nouns else (self.keywords[0] if self.keywords else "record")


def normalise_regime(name: str) -> str:
    """Map a free-form regime name to its canonical spelling (``"soc2" → "SOC 2 Type II"``)."""
    for canonical, pattern in COMPLIANCE_PATTERNS.items():
        if pattern.search(name):
            return canonical
    return name.strip()


def _split_clauses(sentence: str) -> list[list[str]]:
    """Split at commas and at "and/or" + verb once the clause has an object; noun lists and
    modifiers ("humidity and power readings", "without losing edits") stay with their clause."""
    raw = [w for w in sentence.rstrip(".!?").split(" ") if w]
    pieces: list[tuple[list[str], bool]] = [([], False)]
    for i, w in enumerate(raw):
        low = w.lower().rstrip(",;:")
        nxt = raw[i + 1].lower().rstrip(",;:") if i + 1 < len(raw) else ""
        current = pieces[-1][0]
        if low in _CONJ and not w.endswith(",") and verb_base(nxt) and _complete(current):
            pieces.append(([w], False))
            continue
        current.append(w.rstrip(",;:"))
        if w.endswith((",", ";")):
            pieces.append(([], True))
    clauses: list[list[str]] = []
    for words, after_comma in pieces:
        body = list(words)
        while body and body[0].lower() in _CONJ:
            body = body[1:]
        if not body:
            continue
        if clauses and (len(body) < 3 or not _starts_clause(body)):
            clauses[-1] = clauses[-1] + ([","] if after_comma else []) + words
        else:
            clauses.append(body)
    return clauses


def _complete(words: list[str]) -> bool:
    vi = _verb_index(words)
    return vi is not None and len(words) - vi - 1 >= 2


def _starts_clause(body: list[str]) -> bool:
    first = body[0].lower()
    if verb_base(first) or _MODALS & {w.lower() for w in body[:6]}:
        return True
    return first in _SUBJECT_STARTS | ACTOR_WORDS | SYSTEM_WORDS and _verb_index(body) is not None


def _verb_index(words: list[str]) -> int | None:
    """Index of the clause's verb (or modal); subject-verb agreement tells "a daily view shows"
    (noun, then verb) from "operators watch" (plural subject, base verb)."""
    for i, w in enumerate(words[:6]):
        lw = w.lower()
        if lw in _MODALS:
            return i
        base = verb_base(lw)
        if not base:
            continue
        if i == 0:
            return i
        prev = words[i - 1].lower()
        if prev in _NOT_BEFORE_VERB:
            continue
        plural_subject = (prev.endswith("s") and not prev.endswith("ss")) or prev in _PLURAL_PRONOUNS
        if (base == lw and plural_subject) or (base != lw and not plural_subject):
            return i
    return None


def _feature(words: list[str], sentence: int, inherited: str) -> Feature | None:
    text = " ".join(words).replace(" ,", ",")
    if _NAMED_REGIME.search(text) or len(words) < 3:
        return None
    if _SCALE_VERBS & {w.lower() for w in words} and any(ch.isdigit() for ch in text):
        return None  # "must support 10k users": a scale target, which becomes an NFR
    vi = _verb_index(words)
    subject = [w.lower() for w in words[:vi]] if vi else []
    subj_words = set(subject)
    actor = inherited
    if subj_words & ACTOR_WORDS and "they" not in subj_words:
        actor = " ".join(w for w in subject if w not in {"the", "a", "an", "each", "every", "their"})
    if vi is not None and words[vi].lower() in _MODALS:
        if subj_words & ACTOR_WORDS and vi + 1 < len(words) and verb_base(words[vi + 1]):
            vi += 1
        else:
            return Feature(cap(text) + ".", cap(_short(words)), "system", sentence)
    if vi is None:
        return Feature(cap(text) + ".", cap(_short(words)), "system", sentence)
    verb = verb_base(words[vi]) or words[vi].lower()
    rest = [verb, *words[vi + 1 :]]
    action = " ".join(rest).replace(" ,", ",")
    if subj_words & SYSTEM_WORDS or not subject:
        who = "system" if subject else actor
    elif subj_words & ACTOR_WORDS or "they" in subj_words:
        who = actor
    else:
        return Feature(f"{cap(' '.join(words[:vi]))} shall {action}.", cap(_short(rest)), "system", sentence)
    if who == "system":
        return Feature(f"The system shall {action}.", cap(_short(rest)), "system", sentence)
    return Feature(f"The system shall let {who} {action}.", cap(_short(rest)), who, sentence)


def _short(words: list[str], n: int = 9) -> str:
    phrase = " ".join(words[:n]).replace(" ,", ",").rstrip(",")
    return phrase + ("…" if len(words) > n else "")


def _features(sents: list[str]) -> tuple[list[Feature], list[str]]:
    features: list[Feature] = []
    actors: list[str] = []
    for si, sentence in enumerate(sents):
        if si == 0 and len(sents) > 1:
            continue  # the opening sentence describes the product; it becomes the summary
        inherited = actors[-1] if actors else "users"
        for clause in _split_clauses(sentence):
            f = _feature(clause, si, inherited)
            if f is None:
                continue
            if f.actor != "system":
                inherited = f.actor
                if f.actor not in actors:
                    actors.append(f.actor)
            if all(f.text.lower() != g.text.lower() for g in features):
                features.append(f)
    return features, actors


def _used_as_noun(noun: str, text: str) -> bool:
    """A known entity noun used as a noun: plural, or after a determiner ("sensors", "each tenant")."""
    if noun in {"user", "audit"}:
        return False
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return bool(
        re.search(rf"\b{plural}\b|\b(the|a|an|each|every|any|one|per|their|its)\s+{noun}\b", text, re.I)
    )


def _scale(text: str, level: int, signals: frozenset[str]) -> Scale:
    users, tenants, devices, daily, interval = (0, 0, 0, 0, 0.0)
    for value, word in quantities(text):
        w = singular(word)
        if w in {"user", "clinician", "customer", "member", "people", "student", "operator"}:
            users = max(users, int(value))
        elif w in {"institution", "tenant", "organisation", "organization", "hospital", "customer", "site"}:
            tenants = max(tenants, int(value))
        elif w in {"sensor", "device", "meter", "camera"}:
            devices = max(devices, int(value))
        elif w in {"s", "sec", "second"}:
            interval = value
        elif w in {"scan", "image", "study", "order", "message", "event", "transaction", "request"}:
            daily = max(daily, int(value))
    avail = _AVAILABILITY.search(text)
    return Scale(
        users=users or (1_000, 5_000, 50_000)[level],
        tenants=tenants or (1, 50, 200)[level] if "multitenant" in signals else tenants or 1,
        devices=devices,
        interval_s=interval or (60.0 if devices else 0.0),
        daily_volume=daily or (2_000, 20_000, 200_000)[level],
        availability=float(avail.group(1)) if avail else (99.5, 99.9, 99.95)[level],
    )


def _category(signals: frozenset[str], compliance: tuple[str, ...]) -> str:
    for signal, category in (("health", "healthcare"), ("payments", "fintech"), ("iot", "iot")):
        if signal in signals:
            return category
    if "multitenant" in signals or compliance:
        return "enterprise"
    if "consumer" in signals or "scheduling" in signals:
        return "productivity"
    return "other"


@functools.cache
def _analyse(idea_json: str) -> Analysis:
    idea: dict[str, Any] = json.loads(idea_json)
    text = str(idea.get("text") or "")
    constraints: Mapping[str, Any] = idea.get("constraints") or {}
    sents = sentences(text)
    toks = {singular(t) for t in tokens(text)} | set(tokens(text))
    signals = frozenset(s for s, ws in SIGNALS.items() if ws & toks)
    detected = tuple(r for r, p in COMPLIANCE_PATTERNS.items() if p.search(text))
    stated = tuple(normalise_regime(str(c)) for c in constraints.get("compliance") or [])
    compliance = tuple(dict.fromkeys(stated + detected))
    if "GDPR" in compliance or "eu" in signals:
        signals |= {"eu"}
    features, actors = _features(sents)
    targets = tuple(str(t) for t in constraints.get("target_users") or [])
    kw = keywords(text, 20)
    nouns = tuple(dict.fromkeys(n for n in kw + sorted(toks) if n in ENTITIES and _used_as_noun(n, text)))
    budget = constraints.get("budget_usd")
    timeline = str(constraints.get("timeline") or "")
    defaults: list[tuple[str, str, str]] = []
    score = sum(2 if s in _HEAVY_SIGNALS else 0.5 for s in signals) + 2 * len(compliance)
    score += len(features) // 4 + len(sents) // 4
    if isinstance(budget, int | float) and budget > 0:
        score += -2 if budget < 5_000 else 3 if budget >= 100_000 else 1 if budget >= 10_000 else 0
    level = 0 if score < 7 else 1 if score < 17 else 2
    if not isinstance(budget, int | float) or budget <= 0:
        budget = (2_000, 25_000, 250_000)[level]
        defaults.append(
            ("constraints.budget_usd", f"{budget}", "no budget given; typical for the idea's size")
        )
    m = _TIMELINE.search(timeline)
    if m:
        unit = m.group(2).lower()
        weeks = float(m.group(1)) * {"day": 1 / 7, "week": 1, "month": 4.345, "year": 52}[unit]
    else:
        weeks = (4, 12, 40)[level]
        timeline = f"{weeks} weeks"
        defaults.append(("constraints.timeline", timeline, "no timeline given; typical for the idea's size"))
    if not targets:
        targets = tuple(actors[:3]) or ("early adopters",)
        defaults.append(("target_users", ", ".join(targets), "derived from the actors named in the idea"))
    return Analysis(
        title=str(idea.get("title") or cap(" ".join(kw[:3])) or "Untitled idea"),
        text=text,
        summary=sents[0] if sents else text,
        features=tuple(features),
        actors=tuple(actors) or ("users",),
        target_users=targets,
        keywords=tuple(kw),
        nouns=nouns,
        signals=signals,
        compliance=compliance,
        detected_compliance=detected,
        category=_category(signals, compliance),
        complexity=("low", "medium", "high")[level],
        budget_usd=float(budget),
        timeline=timeline,
        timeline_weeks=max(1, round(weeks)),
        tech_preferences=tuple(str(t) for t in constraints.get("tech_preferences") or []),
        scale=_scale(text, level, signals),
        defaults_applied=tuple(defaults),
    )


def analyse(idea: Mapping[str, Any]) -> Analysis:
    """The analysis of ``idea`` (the ``context["idea"]`` mapping), cached per distinct idea."""
    return _analyse(json.dumps(idea, sort_keys=True, default=str))
