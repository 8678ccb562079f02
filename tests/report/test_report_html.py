"""The HTML report's content, read from real embedded runs (no browser needed here)."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

from ideamine.catalogue import load_catalogue
from ideamine.embedded import DB_FILE
from ideamine.store.sqlite import open_sqlite
from orchestrator.report import traceability_rows
from orchestrator.report_html import CSP
from tests.report.support import XSS_IDEA, XSS_TITLE, Page, report_of

PHASES = load_catalogue().names


def _store_facts(out: Path) -> dict[str, Any]:
    async def read() -> dict[str, Any]:
        store = await open_sqlite(out / DB_FILE)
        try:
            run_id = json.loads((out / "run.json").read_text())["run_id"]
            return {
                "run": await store.get_run(run_id),
                "artifacts": await store.list_artifacts(run_id),
                "calls": await store.list_llm_calls(run_id=run_id),
                "gates": await store.list_gate_evaluations(run_id),
                "questions": await store.list_questions(run_id),
                "assumptions": await store.list_assumptions(run_id),
            }
        finally:
            await store.close()

    return asyncio.run(read())


@pytest.fixture(scope="module")
def healthcare(runs: dict[str, Path]) -> tuple[str, Page, dict[str, Any]]:
    text = report_of(runs["healthcare"])
    return text, Page(text), _store_facts(runs["healthcare"])


def _segments(page: Page, phase: str) -> list[tuple[float, float, str]]:
    """(x, x + width, classes) of a phase's Gantt bars, read back from the SVG."""
    out, inside = [], False
    for tag, attrs in page.elements:
        if tag == "g" and "gantt-row" in attrs.get("class", ""):
            inside = attrs.get("data-phase") == phase
        elif inside and tag == "rect" and "seg" in attrs.get("class", "").split():
            x, w = float(attrs["x"]), float(attrs["width"])
            out.append((x, x + w, attrs["class"]))
    return out


def test_timeline_has_a_row_per_phase_in_pipeline_order_and_security_overlaps_story_loop(
    healthcare: tuple[str, Page, dict[str, Any]],
) -> None:
    _, page, facts = healthcare
    rows = page.find("g", class_="gantt-row")
    assert [r["data-phase"] for r in rows] == list(PHASES) == list(facts["run"].phases)
    assert all(r["data-outcome"] == "completed" for r in rows)
    (sec,), (story,) = _segments(page, "security"), _segments(page, "story-loop")
    assert sec[0] < story[1] and story[0] < sec[1], (sec, story)
    bands = page.find("rect", class_="parallel")
    assert [b["data-phases"] for b in bands] == ["security story-loop"]
    (build,), (qa,) = _segments(page, "build"), _segments(page, "qa")
    assert build[1] <= min(sec[0], story[0]) + 2 and qa[0] >= max(sec[1], story[1]) - 2


def test_every_gate_evaluation_cost_row_and_artifact_is_shown(
    healthcare: tuple[str, Page, dict[str, Any]],
) -> None:
    _, page, facts = healthcare
    attempts = page.find("tr", class_="gate-attempt")
    assert [(a["data-phase"], int(a["data-attempt"])) for a in attempts] == [
        (g.phase, g.attempt) for g in facts["gates"]
    ]
    bars = [b["data-phase"] for b in page.find("g", class_="bar-row")]
    assert bars == list(PHASES)  # the token chart; every call cost $0, so no dollar chart
    assert "Every call cost $0.00" in page.text
    tokens = sum(c.input_tokens + c.output_tokens for c in facts["calls"])
    assert f"{tokens:,}" in page.text
    shown = {a["id"] for a in page.find("details", class_="artifact")}
    assert shown == {f"artifact-{a.id}" for a in facts["artifacts"]}
    assert len(facts["artifacts"]) > 40
    for a in facts["artifacts"][:5]:
        assert a.sha256[:12] in page.text


def test_traceability_rows_come_from_orchestrator_report(
    healthcare: tuple[str, Page, dict[str, Any]],
) -> None:
    text, page, facts = healthcare
    rows = traceability_rows(facts["artifacts"])
    assert len(rows) >= 10
    section = text[text.index('id="traceability"') : text.index('id="clarifications"')]
    for row in rows:
        assert re.search(
            rf"<td[^>]*>{re.escape(row['requirement_id'])}</td><td>{re.escape(', '.join(row['story_ids']) or '—')}</td>",
            section,
        )
    assert f"{len(rows)} requirements" in page.text


def test_questions_answers_and_assumptions_are_listed(healthcare: tuple[str, Page, dict[str, Any]]) -> None:
    _, page, facts = healthcare
    assert facts["questions"] and facts["assumptions"], "the healthcare run asks questions"
    for q in facts["questions"]:
        assert q.code in page.text and q.text in page.text
        if q.answer:
            assert q.answer in page.text
    for a in facts["assumptions"]:
        assert a.text in page.text


def test_the_page_is_self_contained_and_locked_down(healthcare: tuple[str, Page, dict[str, Any]]) -> None:
    text, page, _ = healthcare
    assert page.find("meta", http_equiv="Content-Security-Policy")[0]["content"] == CSP
    assert "default-src 'none'" in CSP and "unsafe-inline" not in CSP
    assert (
        len(page.find("script")) == 1
        and not page.find("link")
        and not page.find("img")
        and not page.find("iframe")
    )
    for tag, attrs in page.elements:
        assert "style" not in attrs, tag  # the CSP forbids style attributes
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
        for key in ("src", "href"):
            assert not attrs.get(key) or attrs[key].startswith("#"), (tag, attrs)
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in text


def test_rendering_is_deterministic(runs: dict[str, Path]) -> None:
    assert report_of(runs["gate_loop"]) == report_of(runs["gate_loop"])


def test_a_failed_gate_attempt_shows_its_findings_and_the_retry_on_the_timeline(
    runs: dict[str, Path],
) -> None:
    page = Page(report_of(runs["gate_loop"]))
    prd = [a for a in page.find("tr", class_="gate-attempt") if a["data-phase"] == "prd"]
    assert [(a["data-attempt"], a["data-decision"]) for a in prd] == [("1", "FAIL"), ("2", "PASS")]
    assert "stories without acceptance criteria" in page.text or "acceptance" in page.text
    classes = [c for _, _, c in _segments(page, "prd")]
    assert classes == ["seg seg-retried", "seg seg-completed"]
    assert len(page.find("polygon", class_="gate-fail")) == 1


def test_a_stopped_run_shows_its_status_and_the_phases_it_never_reached(runs: dict[str, Path]) -> None:
    page = Page(report_of(runs["budget"]))
    assert page.find("span", id="run-status")[0]["class"].endswith("status-budget_exhausted")
    outcomes = {r["data-phase"]: r["data-outcome"] for r in page.find("g", class_="gantt-row")}
    assert "stopped" in outcomes.values()
    assert list(outcomes.values())[-1] == "not started"
    assert "not evaluated" in page.text


def test_hostile_idea_and_title_render_as_text(runs: dict[str, Path]) -> None:
    text = report_of(runs["xss"])
    page = Page(text)
    assert len(page.find("script")) == 1  # ours
    assert not page.find("img") and not page.find("textarea")
    assert not any(k.startswith("on") for _, attrs in page.elements for k in attrs)
    assert "<script>alert" not in text and "<img" not in text and "</svg><img" not in text
    assert XSS_IDEA in page.text  # shown literally, once decoded by the parser
    assert XSS_TITLE in page.text
    assert page.find("title")  # the document title survived the title's own </title>
    assert text.count("</svg>") == text.count("<svg")
