"""Offline Q/A: decision-changing questions for a phase, and evidence-quoting answers.

Questions come from per-phase concerns filled with the idea's own terms (actors, scale,
compliance, keywords) and from the defaults intake had to apply — the places where the
run is guessing. Answers search the run's artifacts (and earlier accepted answers) for
string values that share the question's content words and quote them verbatim; with no
such evidence the answer says so with a low confidence, which the engine's validator
turns into a recorded assumption.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import Any

from ideamine.llm.offline.ctx import JSON, Ctx
from ideamine.llm.offline.registry import generator
from ideamine.llm.offline.text import clip, human_list, words

#: per phase: (topic, question template, blocking). {actor}, {scale}, {regimes}, {kw}, {kw2} are filled in.
_CONCERNS: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "intake": (
        ("users", "Which of the target users, {actor} first, must the first release serve?", True),
        ("timeline", "What is the delivery timeline and which milestone matters most?", False),
        ("success", "Which success criterion decides whether {kw} is worth building?", False),
    ),
    "ideation": (
        ("differentiation", "What differentiates the {kw} offering from the strongest competitor?", True),
        ("personas", "Which persona's use cases take priority when they conflict?", False),
        ("stack", "Which technology preference constrains the {kw2} stack?", False),
    ),
    "critique": (
        ("risk", "Which risk to {kw} has the highest impact, and what mitigates it?", True),
        ("assumption", "Which assumption about {actor} is most likely wrong?", False),
    ),
    "prd": (
        ("scope", "Which must-have requirements for {kw} can move to a later release?", True),
        ("performance", "What latency and availability targets apply at {scale}?", False),
        ("acceptance", "How is acceptance of the {kw2} stories verified?", False),
    ),
    "bizdev": (
        ("pricing", "What price point will {actor} accept for {kw}?", True),
        ("channels", "Which acquisition channel reaches {actor} at the lowest cost?", False),
    ),
    "architecture": (
        ("recovery", "What recovery time and recovery point objectives apply to {kw} data?", True),
        ("data", "Which entity holds the most sensitive {kw2} data and where is it stored?", False),
        ("scaling", "How does the architecture scale to {scale}?", False),
    ),
    "build": (
        ("pipeline", "Which CI stages gate a release of {kw}?", False),
        ("secrets", "How are secrets handled across environments?", True),
    ),
    "security": (
        ("compliance", "How are {regimes} requirements mapped to controls?", True),
        ("threats", "Which high-severity threat to {kw} has the weakest control?", True),
    ),
    "story-loop": (("stories", "Which planned stories carry the highest implementation risk?", False),),
    "qa": (
        ("coverage", "Which acceptance criteria for {kw} lack an end-to-end test?", True),
        ("load", "What load profile represents {scale}?", False),
    ),
    "aesthetic": (
        ("accessibility", "Which WCAG criteria are hardest to meet for {actor}?", False),
        ("design", "Which design tokens define the {kw} brand?", False),
    ),
    "release": (
        ("rollback", "What triggers a rollback of the {kw} release?", True),
        ("versioning", "Which version number does the first release carry?", False),
    ),
    "beta": (
        ("cohorts", "Which beta cohort of {actor} gives the most useful feedback?", False),
        ("privacy", "Which telemetry events carry personal data and how is it protected?", True),
    ),
}


def _scale(ctx: Ctx) -> str:
    s = ctx.a.scale
    parts = [f"{s.users:,} users"]
    if s.devices:
        parts.append(f"{s.devices:,} devices")
    return f"{human_list(parts)} at {s.availability:g} % availability"


def _fill(template: str, ctx: Ctx) -> str:
    a = ctx.a
    kws = list(a.keywords) or ["the product"]
    return template.format(
        actor=(a.target_users or a.actors or ("the primary users",))[0],
        scale=_scale(ctx),
        regimes=human_list(a.compliance) if a.compliance else "the applicable regulatory",
        kw=kws[0],
        kw2=kws[1] if len(kws) > 1 else kws[0],
    )


@generator("qav-questions")
def questions(ctx: Ctx) -> JSON:
    """Decision-changing questions for the phase named in ``context["qav"]``."""
    qav = ctx.context.get("qav") or {}
    phase = str(qav.get("qav_phase") or ctx.context.get("phase") or "intake")
    limit = max(0, int(qav.get("max_questions", 5)))
    out: list[JSON] = []
    for topic, template, blocking in _CONCERNS.get(phase, ()):
        out.append({"topic": topic, "text": clip(_fill(template, ctx), 400), "blocking": blocking})
    for field, value, reason in ctx.a.defaults_applied if phase == "intake" else ():
        out.append(
            {
                "topic": str(field),
                "text": clip(f"The idea does not state its {field}; is '{value}' right? ({reason})", 400),
                "blocking": False,
            }
        )
    return {
        "questions": [
            {"id": f"q{i}", "rationale": f"Answering it changes the {phase} artifacts.", **q}
            for i, q in enumerate(out[:limit], 1)
        ]
    }


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _strings(v, f"{path}.{k}")
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v, path)


@functools.lru_cache(maxsize=200_000)
def _content_words(text: str) -> frozenset[str]:
    """``words`` of an artifact string, cached: the same strings are searched for every question."""
    return frozenset(words(text))


def _corpus(ctx: Ctx) -> list[tuple[str, str, frozenset[str]]]:
    """(source path, text, content words) of every artifact string worth quoting."""
    out = []
    for artifact_type, content in sorted(ctx.artifacts.items()):
        if artifact_type.startswith("qav-"):
            continue  # the questions themselves are not evidence
        for path, text in _strings(content, artifact_type):
            if len(text) >= 12:
                out.append((path[:80], text, _content_words(text)))
    return out


def _evidence(
    question: Mapping[str, Any], corpus: list[tuple[str, str, frozenset[str]]], ctx: Ctx
) -> list[tuple[int, str, str]]:
    """(overlap, source, quote) candidates, best first."""
    wanted = words(str(question.get("text", ""))) | words(str(question.get("topic", "")))
    # who the product is for appears everywhere; it says nothing about what was asked
    wanted -= {w for actor in (*ctx.a.target_users, *ctx.a.actors) for w in words(actor)}
    found: list[tuple[int, str, str]] = []
    for k in question.get("knowledge") or []:
        if isinstance(k, Mapping) and k.get("answer"):
            overlap = len(wanted & words(str(k["answer"])))
            if overlap >= 2:  # an accepted answer on the same subject outranks artifact text
                found.append((overlap + 1, f"answer:{k.get('code', '?')}", str(k["answer"])))
    for path, text, content_words in corpus:
        overlap = len(wanted & content_words)
        if overlap >= 2:
            found.append((overlap, path, text))
    found.sort(key=lambda f: (-f[0], f[1], f[2]))
    return found


@generator("qav-answers")
def answers(ctx: Ctx) -> JSON:
    """Answer each question in ``context["qav"]["questions"]`` from quoted evidence."""
    qav = ctx.context.get("qav") or {}
    out: list[JSON] = []
    corpus = _corpus(ctx)
    for q in qav.get("questions") or []:
        if not isinstance(q, Mapping) or not q.get("code"):
            continue
        found = _evidence(q, corpus, ctx)[:3]
        if found:
            best = found[0][0]
            quotes = [{"source": src, "quote": clip(text, 400)} for _, src, text in found]
            answer = " ".join(e["quote"].rstrip(".") + "." for e in quotes)
            confidence = round(min(0.95, 0.3 + 0.15 * best), 2)
        else:
            quotes, answer, confidence = [], "The artifacts so far do not settle this question.", 0.2
        out.append(
            {
                "question_code": str(q["code"]),
                "answer": clip(answer, 1200),
                "confidence": confidence,
                "evidence": quotes,
            }
        )
    return {"answers": out}
