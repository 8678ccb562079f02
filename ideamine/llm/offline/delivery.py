"""Generators of the story loop, QA and aesthetic phases."""

from __future__ import annotations

import colorsys
import re
from collections.abc import Mapping
from typing import Any

from ideamine.llm.offline.ctx import JSON, Ctx, seq
from ideamine.llm.offline.registry import generator, produce
from ideamine.llm.offline.text import clip, slug, snake
from ideamine.llm.offline.wcag import WCAG_22_A_AA

_NUMBER = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s*(ms|requests/s|readings/s|rps)", re.I)
_HIGH = ("high", "critical")
_TEST_KIND = {
    "spoofing": "pentest",
    "tampering": "fuzz",
    "repudiation": "manual",
    "information-disclosure": "dast",
    "denial-of-service": "pentest",
    "elevation-of-privilege": "pentest",
}


def _story(ctx: Ctx) -> Mapping[str, Any]:
    if ctx.story is not None:
        return ctx.story
    stories = ctx.items("user-stories", "stories")
    return next((s for s in stories if s.get("priority") == "must"), stories[0])


@generator("story-plan")
def story_plan(ctx: Ctx) -> JSON:
    story = _story(ctx)
    sid, reqs = str(story.get("id")), set(story.get("requirement_ids", []))
    comps = [c for c in ctx.items("architecture", "components") if reqs & set(c.get("requirement_ids", []))]
    comps = comps or ctx.items("architecture", "components")[:1]
    modules = {str(m.get("component_id")): str(m.get("path")) for m in ctx.items("repo-blueprint", "modules")}
    name = snake(str(story.get("title")))[:40].strip("_") or "story"
    acs = [c for c in story.get("acceptance", []) if isinstance(c, Mapping)]
    points = int(story.get("points", 3))
    tasks = [
        {
            "title": clip(f"Implement '{story.get('title')}' in {c.get('name')}", 200),
            "component_id": str(c.get("id")),
            "estimate_hours": float(max(2, points * 2)),
        }
        for c in comps[:6]
    ]
    tasks.append(
        {
            "title": "Write tests for every acceptance criterion",
            "component_id": None,
            "estimate_hours": float(points),
        }
    )
    files = [
        {
            "path": f"{modules.get(str(c.get('id')), 'src/' + slug(str(c.get('name'))))}/{name}.py",
            "change": "add",
        }
        for c in comps[:6]
    ]
    tests = [
        {
            "name": f"test_{name}_{snake(str(ac.get('id')))}",
            "kind": "e2e" if i == 0 else "integration",
            "acceptance_ids": [str(ac.get("id"))],
        }
        for i, ac in enumerate(acs)
    ]
    tests = tests or [{"name": f"test_{name}", "kind": "unit", "acceptance_ids": []}]
    risks = [f"Touches {len(comps)} components; coordinate interface changes"] if len(comps) > 2 else []
    if ctx.a.has("compliance"):
        risks.append("Sensitive data must not appear in logs or error messages")
    return {
        "story_id": sid,
        "summary": clip(f"{story.get('title')}: {len(tasks)} tasks, {len(tests)} tests.", 400),
        "tasks": tasks[:20],
        "files": files[:30],
        "tests": tests[:30],
        "risks": risks,
    }


@generator("story-review")
def story_review(ctx: Ctx) -> JSON:
    story = _story(ctx)
    sid = str(story.get("id"))
    plan = ctx.artifacts.get("story-plan")
    if not isinstance(plan, Mapping) or plan.get("story_id") != sid:
        plan = produce(Ctx("story-plan", {**ctx.context, "story": story, "feedback": []}))
    tested = {str(a) for t in plan.get("tests", []) for a in t.get("acceptance_ids", [])}
    findings = [
        {"severity": "high", "finding": f"{ac.get('id')} has no test", "recommendation": "Add a test for it"}
        for ac in story.get("acceptance", [])
        if str(ac.get("id")) not in tested
    ]
    if ctx.a.has("compliance"):
        findings.append(
            {
                "severity": "medium",
                "finding": "Logging of request bodies could leak sensitive data",
                "recommendation": "Log ids only; add a test that asserts redaction",
            }
        )
    if int(story.get("points", 0)) >= 8:
        findings.append(
            {
                "severity": "low",
                "finding": "Large story",
                "recommendation": "Ship behind a feature flag in two slices",
            }
        )
    verdict = "approve" if not findings else "approve-with-changes"
    return {
        "story_id": sid,
        "verdict": verdict,
        "findings": findings,
        "summary": clip(f"Plan for {sid} reviewed: {len(findings)} finding(s); no critical issue.", 600),
    }


@generator("test-plan")
def test_plan(ctx: Ctx) -> JSON:
    cases: list[JSON] = []
    for s in ctx.items("user-stories", "stories"):
        for ac in s.get("acceptance", []):
            cases.append(
                {
                    "id": seq("TC", len(cases) + 1),
                    "title": clip(f"{s.get('title')}: {ac.get('then')}", 200),
                    "kind": "e2e" if not cases or cases[-1]["story_id"] != s.get("id") else "integration",
                    "story_id": str(s.get("id")),
                    "ac_ids": [str(ac.get("id"))],
                    "steps": [clip(f"Given {ac.get('given')}", 300), clip(f"When {ac.get('when')}", 300)],
                    "expected": clip(f"Then {ac.get('then')}", 400),
                }
            )
    return {
        "strategy": "One automated test case per acceptance criterion, run in CI against staging; "
        "happy paths end to end, edge cases as API integration tests.",
        "cases": cases[:400],
    }


def _target(text: str, unit: str, default: float) -> float:
    for value, found in _NUMBER.findall(text):
        if (unit == "ms") == (found.lower() == "ms"):
            return float(value.replace(",", ""))
    return default


@generator("load-test-plan")
def load_test_plan(ctx: Ctx) -> JSON:
    scenarios = []
    for n in ctx.items("prd", "nfrs"):
        if n.get("category") not in ("performance", "scalability", "availability"):
            continue
        text = str(n.get("target"))
        profile = {"performance": "ramp", "scalability": "spike", "availability": "soak"}[
            str(n.get("category"))
        ]
        scenarios.append(
            {
                "name": clip(f"{profile.capitalize()}: {text}", 120),
                "nfr_id": str(n.get("id")),
                "target_rps": _target(text, "rps", 50.0),
                "p95_ms": _target(text, "ms", 500.0),
                "duration_minutes": 240 if profile == "soak" else 30,
                "profile": profile,
            }
        )
    return {
        "tool": "k6",
        "scenarios": scenarios[:30]
        or [
            {
                "name": "Baseline",
                "nfr_id": "NFR-001",
                "target_rps": 10.0,
                "p95_ms": 500.0,
                "duration_minutes": 15,
                "profile": "steady",
            }
        ],
    }


@generator("security-test-plan")
def security_test_plan(ctx: Ctx) -> JSON:
    cases: list[JSON] = []
    for t in ctx.items("threat-model", "threats"):
        kinds = [_TEST_KIND.get(str(t.get("stride")), "manual")] + (
            ["sast"] if t.get("severity") in _HIGH else []
        )
        for kind in kinds:
            cases.append(
                {
                    "id": seq("STC", len(cases) + 1),
                    "threat_id": str(t.get("id")),
                    "kind": kind,
                    "title": clip(f"{kind.upper()}: {t.get('title')}", 200),
                    "expected": "The attack fails and is logged; no data leaves its boundary.",
                }
            )
    cases.append(
        {
            "id": seq("STC", len(cases) + 1),
            "threat_id": str(cases[0]["threat_id"]) if cases else "THR-001",
            "kind": "dependency-scan",
            "title": "Dependency and image scan on every build",
            "expected": "No known critical CVE ships",
        }
    )
    return {"cases": cases[:150]}


@generator("a11y-test-plan")
def a11y_test_plan(ctx: Ctx) -> JSON:
    checks = [
        ("1.1.1", "automated", "Every image and icon button has a text alternative"),
        ("1.4.3", "automated", "Text contrast at least 4.5:1"),
        ("1.4.11", "automated", "UI component contrast at least 3:1"),
        ("2.1.1", "manual", "Every flow completes with a keyboard only"),
        ("2.4.7", "manual", "Focus is always visible"),
        ("2.5.8", "automated", "Targets at least 24 by 24 CSS px"),
        ("3.3.1", "manual", "Errors are identified in text"),
        ("4.1.2", "assistive-technology", "Screen readers announce name, role and value of controls"),
        ("4.1.3", "assistive-technology", "Status messages are announced without focus changes"),
    ]
    if ctx.a.has("mobile"):
        checks.append(("1.3.4", "manual", "Works in portrait and landscape"))
    return {
        "standard": "WCAG 2.2 AA",
        "tools": ["axe-core", "Lighthouse", "VoiceOver", "NVDA"],
        "checks": [{"criterion": c, "method": m, "description": d} for c, m, d in checks],
    }


@generator("ux-audit")
def ux_audit(ctx: Ctx) -> JSON:
    rng = ctx.rng()
    issues = [
        "The primary action is below the fold on small screens",
        "Empty states do not explain the next step",
        "Error messages use internal terms",
        "Too many steps before the first success",
    ]
    findings = [
        {
            "id": seq("UX", i),
            "severity": rng.choice(["low", "medium"]),
            "area": clip(str(r.get("title")), 80),
            "finding": issues[(i - 1) % len(issues)],
            "recommendation": "Simplify and test with five target users",
        }
        for i, r in enumerate(ctx.items("prd", "requirements")[: ctx.a.size(4, 6, 8)], 1)
    ]
    return {"summary": f"{len(findings)} usability findings, none blocking.", "findings": findings}


@generator("accessibility-report")
def accessibility_report(ctx: Ctx) -> JSON:
    rng = ctx.rng()
    media = any(w in ctx.a.text.lower() for w in ("video", "audio", "podcast"))
    criteria = []
    for cid, level, title in WCAG_22_A_AA:
        if cid.startswith("1.2.") and not media:
            status, notes = "not-applicable", "No prerecorded or live media in scope"
        else:
            status = "partial" if rng.random() < 0.12 else "pass"
            notes = (
                "Fix scheduled before beta"
                if status == "partial"
                else f"Level {level}: verified by the a11y test plan"
            )
        criteria.append({"id": cid, "title": title, "status": status, "notes": notes})
    partial = sum(1 for c in criteria if c["status"] == "partial")
    return {
        "wcag_version": "2.2",
        "wcag_level": "AA",
        "criteria": criteria,
        "summary": f"All {len(criteria)} A/AA criteria assessed; {partial} partially met with fixes planned.",
    }


def _hex(h: float, lightness: float, saturation: float) -> str:
    r, g, b = colorsys.hls_to_rgb(h, lightness, saturation)
    return f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"


@generator("design-system")
def design_system(ctx: Ctx) -> JSON:
    a, hue = ctx.a, ctx.rng().random()
    colors = [
        ("brand.primary", _hex(hue, 0.32, 0.7)),
        ("brand.primary-hover", _hex(hue, 0.25, 0.7)),
        ("brand.subtle", _hex(hue, 0.94, 0.6)),
        ("neutral.900", "#1a1c1e"),
        ("neutral.600", "#55595e"),
        ("neutral.100", "#f1f3f5"),
        ("neutral.0", "#ffffff"),
        ("status.success", "#1b7f3b"),
        ("status.warning", "#8a5a00"),
        ("status.danger", "#b3261e"),
        ("status.info", "#0b5cad"),
    ]
    comps = [
        ("Button", "Primary and secondary actions"),
        ("TextField", "Labelled text input with error text"),
        ("Card", "Groups one record"),
        ("Dialog", "Confirmations and focused tasks"),
        ("Toast", "Status messages"),
    ]
    comps += [
        c
        for s, c in (
            ("history", ("DataTable", "Sortable, filterable records")),
            ("realtime", ("LiveChart", "Streaming chart")),
            ("ml", ("FindingOverlay", "Heatmap over an image with confidence")),
            ("offline", ("SyncBadge", "Shows offline and sync state")),
            ("alerts", ("AlertBanner", "Threshold and reminder alerts")),
            ("multitenant", ("TenantSwitcher", "Switches the active tenant")),
        )
        if a.has(s)
    ]
    return {
        "tokens": {
            "colors": [{"name": n, "value": v} for n, v in colors],
            "typography": [
                {
                    "name": n,
                    "font_family": "Inter, system-ui, sans-serif",
                    "size_px": s,
                    "weight": w,
                    "line_height": lh,
                }
                for n, s, w, lh in (
                    ("display", 32, 700, 1.2),
                    ("title", 22, 600, 1.3),
                    ("body", 16, 400, 1.5),
                    ("caption", 13, 400, 1.4),
                )
            ],
            "spacing": [
                {"name": f"space-{i}", "value_px": v} for i, v in enumerate((4, 8, 12, 16, 24, 32, 48), 1)
            ],
            "radii": [
                {"name": "sm", "value_px": 4},
                {"name": "md", "value_px": 8},
                {"name": "pill", "value_px": 128},
            ],
        },
        "components": [
            {
                "name": n,
                "purpose": p,
                "states": ["default", "hover", "focus", "disabled"],
                "a11y_notes": "Visible focus ring; accessible name; 24 px minimum target",
            }
            for n, p in comps
        ],
    }
