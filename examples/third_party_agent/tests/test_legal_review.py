"""The plugin's own tests: the legal-review agent run through IdeaMine's AgentHarness."""

from __future__ import annotations

import pytest
from ideamine_legal_review import LegalReviewAgent

from ideamine.testing import AgentHarness

IDEA = "A telehealth app where patients book video visits and pay by credit card; EU clinics are the first market."
RISKS = {
    "risks": [
        {"id": "RSK-001", "title": "Unclear data residency", "category": "regulatory"},
        {"id": "RSK-002", "title": "Slow video start", "category": "technical"},
    ]
}


async def test_regimes_from_constraints_and_words_and_legal_risks_reviewed() -> None:
    async with AgentHarness(agents=[LegalReviewAgent], idea=IDEA, constraints={"compliance": ["GDPR"]}) as h:
        await h.seed({"risk-register": RISKS})
        result = await h.run("legal-review")
    review = result.artifact("legal-review")
    regimes = {r["regime"]: r for r in review["regimes"]}
    assert {"GDPR", "HIPAA", "PCI DSS"} <= set(regimes)
    assert regimes["GDPR"]["trigger"] == "compliance constraint GDPR"
    assert regimes["HIPAA"]["trigger"] == "the idea mentions 'patient'"
    assert review["risks_reviewed"] == ["RSK-001"] and review["requires_counsel"] is True
    assert result.llm_calls == []  # a rules agent: no model call, nothing spent


@pytest.mark.parametrize("isolation", ["none", "process"])
async def test_an_idea_without_triggers_needs_no_counsel(isolation: str) -> None:
    async with AgentHarness(
        agents=[LegalReviewAgent],
        idea="A to-do list app for one person, stored on the device.",
        isolation=isolation,
    ) as h:
        review = (await h.run("legal-review")).artifact("legal-review")
    assert review["regimes"] == [] and review["requires_counsel"] is False
