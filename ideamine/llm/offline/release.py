"""Generators of the release and beta phases, including the release dossier."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ideamine.canonical import content_hash
from ideamine.catalogue import load_catalogue
from ideamine.llm.offline.ctx import JSON, Ctx
from ideamine.llm.offline.product import trace_rows
from ideamine.llm.offline.registry import generator
from ideamine.llm.offline.text import clip, snake

_GATE_DECISIONS = frozenset({"PASS", "WARN", "FAIL", "WAIVED"})


@generator("deployment-plan")
def deployment_plan(ctx: Ctx) -> JSON:
    a = ctx.a
    strategy = ("rolling", "blue-green", "canary")[a.level]
    p95 = next(
        (str(n.get("target")) for n in ctx.items("prd", "nfrs") if n.get("category") == "performance"),
        "the p95 target",
    )
    steps = [
        "Run database migrations (expand phase only)",
        f"Deploy with the {strategy} strategy",
        "Run smoke tests against the new version",
        "Shift traffic" + (" 5 % → 25 % → 100 % over 2 hours" if strategy == "canary" else ""),
    ]
    if a.has("mobile"):
        steps.append("Staged store rollout: 10 % → 50 % → 100 % over a week")
    return {
        "strategy": strategy,
        "environments": ["staging", "prod"],
        "steps": steps,
        "health_checks": [
            "/healthz returns 200 from every instance",
            "Error rate < 1 % over 5 minutes",
            clip(f"Latency within {p95}", 200),
        ],
        "rollback": {
            "trigger": clip(
                f"Error rate above 1 % or latency outside '{p95}' for 5 minutes, or any failed health check",
                400,
            ),
            "steps": [
                "Freeze the rollout",
                "Route traffic back to the previous version",
                "Keep the expanded schema; disable new code paths with feature flags",
                "Open an incident and notify stakeholders",
            ],
            "max_minutes": (30, 15, 10)[a.level],
        },
    }


@generator("release-notes")
def release_notes(ctx: Ctx) -> JSON:
    a = ctx.a
    musts = [str(r.get("title")) for r in ctx.items("prd", "requirements") if r.get("priority") == "must"]
    known = [
        str(f.get("finding"))
        for s in [ctx.artifacts.get("story-review")]
        if isinstance(s, Mapping)
        for f in s.get("findings", [])
        if isinstance(f, Mapping) and f.get("severity") in ("medium", "high")
    ]
    partial = [
        f"WCAG {c.get('id')} {c.get('title')} partially met"
        for c in ctx.items("accessibility-report", "criteria")
        if c.get("status") == "partial"
    ]
    return {
        "version": "1.0.0",
        "title": clip(f"{a.title} 1.0", 160),
        "highlights": [clip(m, 300) for m in musts][:20] or ["First release"],
        "known_issues": [clip(k, 300) for k in (known + partial)][:20],
        "breaking_changes": [],
    }


def _index(ctx: Ctx) -> list[Mapping[str, Any]]:
    if ctx.index:
        return list(ctx.index)
    cat = load_catalogue()
    out: list[Mapping[str, Any]] = []
    for t, content in (ctx.artifacts or ctx.derived()).items():
        if t in cat.artifact_types and t != "release-dossier" and isinstance(content, Mapping):
            out.append({"type": t, "phase": cat.producer_of(t)[0].name, "sha256": content_hash(content)})
    return out


def _traceability(ctx: Ctx) -> list[JSON]:
    cases = ctx.items("test-plan", "cases")
    rows = trace_rows(ctx)
    for row in rows:
        acs = set(row["acceptance_ids"])
        row["test_case_ids"] = [str(c.get("id")) for c in cases if acs & set(c.get("ac_ids", []))]
    return rows


def _threat_controls(ctx: Ctx) -> list[JSON]:
    return [
        {"threat_id": str(t.get("id")), "control_ids": list(t.get("control_ids", []))}
        for t in ctx.items("threat-model", "threats")
    ]


@generator("release-dossier")
def release_dossier(ctx: Ctx) -> JSON:
    """Lists ``artifact_index`` (else the supplied artifacts, else the ones derived here) with hashes."""
    trace, threats = _traceability(ctx), _threat_controls(ctx)
    index = [i for i in _index(ctx) if i.get("type") != "release-dossier"]
    artifacts = []
    for i in index:
        entry: JSON = {
            "type": str(i.get("type")),
            "phase": str(i.get("phase")),
            "sha256": str(i.get("sha256")),
        }
        if isinstance(i.get("id"), str):
            entry["id"] = i["id"]
        artifacts.append(entry)
    given = ctx.context.get("gates")
    gates = [
        {
            "phase": str(g.get("phase")),
            "decision": str(g.get("decision")) if g.get("decision") in _GATE_DECISIONS else "UNKNOWN",
            "score": g.get("score") if isinstance(g.get("score"), int | float) else None,
        }
        for g in (given if isinstance(given, list) else [])
        if isinstance(g, Mapping)
    ]
    if not gates:  # the engine did not pass gate results: say so rather than invent them
        gates = [
            {"phase": p, "decision": "UNKNOWN", "score": None}
            for p in dict.fromkeys(str(i.get("phase")) for i in index)
        ]
    cost = ctx.context.get("cost")
    cost = cost if isinstance(cost, Mapping) else {}
    return {
        "version": str(ctx.upstream("release-notes").get("version", "1.0.0")),
        "summary": clip(
            f"{ctx.a.title}: {len(artifacts)} artifacts, {len(trace)} requirements traced, "
            f"{len(threats)} threats mapped to controls.",
            1000,
        ),
        "artifacts": artifacts[:500],
        "traceability": trace[:200],
        "threat_controls": threats[:100],
        "gates": gates[:13],
        "cost": {
            "total_usd": float(cost.get("total_usd", 0.0)),
            "total_tokens": int(cost.get("total_tokens", 0)),
            "note": str(cost.get("note") or "Produced by the offline model: no LLM cost."),
        },
    }


@generator("beta-plan")
def beta_plan(ctx: Ctx) -> JSON:
    a = ctx.a
    channels = (
        [("TestFlight", "ios", 10000), ("Google Play internal testing", "android", 2000)]
        if a.has("mobile")
        else []
    )
    channels += [("Invite-only web access", "web-invite", 500)]
    if a.category in ("healthcare", "iot", "enterprise"):
        channels.append(("Design-partner pilot", "enterprise-pilot", 50))
    roles = [str(p.get("role")) for p in ctx.items("personas", "personas")] or list(a.target_users)
    target = max(20, min(2000, a.scale.users // 20))
    return {
        "channels": [{"name": n, "kind": k, "capacity": c} for n, k, c in channels],
        "cohorts": [
            {
                "name": clip(r, 80),
                "size": max(5, target // len(roles)),
                "criteria": clip(f"Active {r.lower()} from the target segment", 300),
            }
            for r in roles[:10]
        ],
        "testers_target": target,
        "duration_weeks": (2, 4, 8)[a.level],
        "exit_criteria": [
            "Crash-free sessions ≥ 99.5 %",
            "No open critical or high defects",
            "Activation ≥ 40 %",
        ],
    }


_LIFECYCLE = (
    "app_opened",
    "signup_started",
    "signup_completed",
    "login_succeeded",
    "login_failed",
    "onboarding_step_completed",
    "onboarding_completed",
    "settings_changed",
    "notification_opened",
    "search_performed",
    "error_shown",
    "feedback_submitted",
    "help_opened",
    "session_ended",
    "invite_sent",
    "export_requested",
    "account_deleted",
    "plan_upgraded",
    "plan_cancelled",
    "page_viewed",
)
_PII_PROPS = {
    "signup_completed": ["user_id", "email_domain"],
    "login_failed": ["user_id", "ip_country"],
    "invite_sent": ["user_id", "invitee_email_hash"],
    "feedback_submitted": ["user_id", "text_length"],
    "account_deleted": ["user_id"],
}


@generator("telemetry-plan")
def telemetry_plan(ctx: Ctx) -> JSON:
    a = ctx.a
    names: list[tuple[str, list[str], str]] = []
    for r in ctx.items("prd", "requirements"):
        words = snake(str(r.get("title")).rstrip("…")).split("_")[:3]
        names.append(
            ("_".join(words) + "_done", ["user_id", "duration_ms"], f"{r.get('id')}: {r.get('title')}")
        )
    names += [(n, _PII_PROPS.get(n, ["duration_ms"]), n.replace("_", " ").capitalize()) for n in _LIFECYCLE]
    events, seen = [], set()
    for name, props, desc in names:
        if name in seen or not name[0].isalpha():
            continue
        seen.add(name)
        pii = "user_id" in props
        events.append(
            {
                "name": name[:60],
                "description": clip(desc, 300),
                "properties": props,
                "pii": pii,
                "privacy_note": (
                    "Pseudonymous user id (salted hash); no content"
                    + (", no health data" if a.has("health") else "")
                    + "; deleted after 13 months"
                )
                if pii
                else None,
            }
        )
    return {
        "privacy": {
            "consent": "Opt-in on first launch; revocable in settings"
            if a.has("eu") or a.has("consumer")
            else "Covered by the customer agreement; users informed in the privacy notice",
            "retention_days": 395,
            "anonymisation": "User ids are salted hashes; IPs truncated to country",
            "data_residency": "EU data stays in eu-central-1" if a.has("eu") else "us-east-1",
        },
        "events": events[:100],
    }


@generator("analytics-plan")
def analytics_plan(ctx: Ctx) -> JSON:
    a = ctx.a
    events = [str(e.get("name")) for e in ctx.items("telemetry-plan", "events")]
    core = [e for e in events if e.endswith("_done")][:3] or events[:3]
    metrics = [
        (
            "Weekly active users",
            "Distinct users with a core event in 7 days",
            core,
            f"{max(50, a.scale.users // 10):,}",
        ),
        (
            "Activation rate",
            "Share of sign-ups completing onboarding and one core action in 24 h",
            ["signup_completed", "onboarding_completed"],
            "≥ 40 %",
        ),
        ("Week-4 retention", "Share of a weekly cohort active in week 4", ["app_opened"], "≥ 30 %"),
        (
            "Error rate seen by users",
            "error_shown events per 100 sessions",
            ["error_shown", "app_opened"],
            "< 2",
        ),
        ("Upgrade rate", "Share of active users upgrading per month", ["plan_upgraded"], "≥ 3 %"),
    ]
    return {
        "north_star": {
            "name": f"Weekly {a.noun}s handled",
            "definition": f"Core {a.noun} actions completed per week by active users",
        },
        "metrics": [
            {"name": n, "definition": d, "source_events": [e for e in s if e in events][:10], "target": t}
            for n, d, s, t in metrics
        ],
        "dashboards": [
            {"name": "Product health", "audience": "Product team", "metrics": [m[0] for m in metrics]},
            {
                "name": "Growth",
                "audience": "Leadership",
                "metrics": ["Weekly active users", "Activation rate", "Upgrade rate"],
            },
        ],
    }
