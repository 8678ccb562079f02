"""The legal-review agent: which legal regimes an idea triggers, and what each obliges.

It adds an *extension task* (``legal-review``, after the catalogue's ``risks`` task) to the
critique phase, producing an artifact type of its own (``legal-review``) with its own JSON
Schema (``schemas/legal-review.json``); IdeaMine validates its output against that schema.

It is a rules agent: it derives its review deterministically from the idea's compliance
constraints, words in the idea and the risk register's legal and regulatory risks, without
calling a model. That is a choice for the example — the output is reproducible, costs
nothing, and works with every IdeaMine model (the offline model generates only IdeaMine's
own artifact types). An LLM-backed agent would subclass ``ideamine.SchemaAgent`` instead
and get the metered client, structured output and schema repair for free. The artifact is
labelled ``rules:legal-review@<version>`` so nobody mistakes it for model output.

It declares ``env = ()``: under ``ideamine serve agent-host --isolation process`` its child
process gets an empty environment.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any, ClassVar

from ideamine import AgentContext, Artifact, TaskDecl, TaskInfo


def _schema() -> dict[str, Any]:
    text = resources.files("ideamine_legal_review").joinpath("schemas/legal-review.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@dataclass(frozen=True)
class Rule:
    """One legal regime and what makes an idea subject to it."""

    regime: str
    constraints: tuple[str, ...]  #: compliance constraint names that select it
    keywords: tuple[str, ...]  #: words in the idea text that select it
    severity: str
    obligations: tuple[str, ...]


RULES: tuple[Rule, ...] = (
    Rule(
        "GDPR",
        ("gdpr",),
        ("personal data", "european", " eu "),
        "high",
        (
            "Record a lawful basis for each processing purpose (Art. 6) and a record of processing (Art. 30).",
            "Run a DPIA before launch if processing is large-scale or monitors people.",
            "Answer access and erasure requests within one month.",
            "Notify the supervisory authority of a personal-data breach within 72 hours.",
        ),
    ),
    Rule(
        "HIPAA",
        ("hipaa",),
        ("patient", "clinic", "medical", "health record"),
        "high",
        (
            "Sign a Business Associate Agreement with every vendor that touches PHI.",
            "Apply the Security Rule safeguards: access control, audit logs, encryption of PHI.",
            "Notify affected individuals of a breach of unsecured PHI within 60 days.",
        ),
    ),
    Rule(
        "PCI DSS",
        ("pci dss", "pci"),
        ("payment", "credit card", "checkout", "billing"),
        "medium",
        (
            "Take card data only through a PCI-compliant processor's hosted fields (SAQ A scope).",
            "Never store the primary account number or card verification code.",
        ),
    ),
    Rule(
        "SOC 2",
        ("soc 2", "soc2"),
        (),
        "medium",
        (
            "Keep evidence for the Trust Services Criteria in scope: change management, access reviews, incidents.",
        ),
    ),
    Rule(
        "ISO 27001",
        ("iso 27001", "iso/iec 27001"),
        (),
        "medium",
        (
            "Run an ISMS: scope, risk assessment and a risk treatment plan.",
            "Maintain a Statement of Applicability for the Annex A controls.",
        ),
    ),
    Rule(
        "COPPA",
        ("coppa",),
        ("children", "kids", "under 13"),
        "high",
        (
            "Obtain verifiable parental consent before collecting personal information from children under 13.",
        ),
    ),
    Rule(
        "Telemarketing consent (TCPA / PECR)",
        (),
        ("sms", "text message"),
        "low",
        ("Collect express consent before sending SMS and honour STOP replies at once.",),
    ),
    Rule(
        "Consumer protection (terms, cancellation, refunds)",
        (),
        ("marketplace", "subscription", "escrow"),
        "low",
        ("Publish clear terms, cancellation and refund rules before the first purchase.",),
    ),
)

_LEGAL_RISK_CATEGORIES = frozenset({"legal", "regulatory"})


class LegalReviewAgent:
    """Legal review of an idea: regimes triggered, obligations, legal risks reviewed."""

    name: ClassVar[str] = "legal-review"
    version: ClassVar[str] = "1.0.0"
    phase: ClassVar[str] = "critique"
    tasks: ClassVar[dict[str, TaskDecl]] = {
        "legal-review": TaskDecl(produces=("legal-review",), after=("risks",)),
    }
    schemas: ClassVar[dict[str, Any]] = {"legal-review": _schema()}
    consumes: ClassVar[tuple[str, ...]] = ("idea-spec", "risk-register")
    env: ClassVar[tuple[str, ...]] = ()

    async def run(self, context: AgentContext, task: TaskInfo) -> list[Artifact]:
        """Review the idea against :data:`RULES` and the run's risk register."""
        idea = context.idea
        text = f" {str(idea.get('text', '')).lower()} "
        constraints = idea.get("constraints") or {}
        named = {str(c).strip().lower() for c in constraints.get("compliance") or []}
        regimes: list[dict[str, Any]] = []
        for rule in RULES:
            by_word = next((k for k in rule.keywords if k in text), None)
            if any(c in named for c in rule.constraints):
                trigger = f"compliance constraint {rule.regime}"
            elif by_word is not None:
                trigger = f"the idea mentions {by_word.strip()!r}"
            else:
                continue
            regimes.append(
                {
                    "id": f"LGL-{len(regimes) + 1:03d}",
                    "regime": rule.regime,
                    "trigger": trigger,
                    "severity": rule.severity,
                    "obligations": list(rule.obligations),
                }
            )
        register = context.artifacts.get("risk-register") or {}
        reviewed = [
            str(r["id"]) for r in register.get("risks", []) if r.get("category") in _LEGAL_RISK_CATEGORIES
        ]
        high = [r["regime"] for r in regimes if r["severity"] == "high"]
        summary = (
            f"{len(regimes)} regime(s) apply: {', '.join(r['regime'] for r in regimes)}."
            if regimes
            else "No specific legal regime is triggered; standard terms of service and a privacy notice suffice."
        )
        if high:
            summary += f" Engage counsel before launch for {', '.join(high)}."
        content = {
            "reviewer": f"{self.name}@{self.version}",
            "regimes": regimes,
            "risks_reviewed": reviewed,
            "requires_counsel": bool(high),
            "summary": summary,
        }
        inputs = tuple(context.artifact_ids[t] for t in self.consumes if t in context.artifact_ids)
        return [Artifact("legal-review", content, f"rules:{self.name}@{self.version}", inputs)]
