"""Generators of the prd and bizdev phases: requirements, stories, traceability, business model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ideamine.llm.offline.analysis import Analysis
from ideamine.llm.offline.ctx import JSON, Ctx, seq
from ideamine.llm.offline.engineering import component_keys, components
from ideamine.llm.offline.registry import generator
from ideamine.llm.offline.text import cap, clip, human_list, words

__all__ = ["singular_role", "trace_rows"]

#: (signal, words that show the idea already covers it, priority, title, text)
_TEMPLATES = (
    (
        "",
        "sign login account",
        "must",
        "Sign up and sign in securely",
        "The system shall let {user} sign up and sign in securely{sso}.",
    ),
    (
        "multitenant",
        "tenant isolat",
        "must",
        "Isolate each tenant's data",
        "The system shall isolate each tenant's data, configuration and users from every other tenant.",
    ),
    (
        "compliance",
        "audit",
        "must",
        "Audit access to sensitive records",
        "The system shall keep a tamper-evident audit trail of every access to and change of sensitive records.",
    ),
    (
        "eu",
        "erasure",
        "must",
        "Export and delete personal data",
        "The system shall let {user} export and delete their personal data on request.",
    ),
    (
        "ml",
        "version",
        "must",
        "Record the model version per result",
        "The system shall record the model version and confidence behind every automated result.",
    ),
    (
        "iot",
        "silent",
        "should",
        "Flag silent devices",
        "The system shall flag devices that stop reporting within two reporting intervals.",
    ),
    (
        "offline",
        "offline",
        "must",
        "Work offline",
        "The system shall keep every core action available offline and queue changes for sync.",
    ),
    (
        "alerts",
        "notif remind alert",
        "should",
        "Notify about what needs attention",
        "The system shall notify {user} about items that need their attention, honouring per-user preferences.",
    ),
    (
        "history",
        "search",
        "should",
        "Search past records",
        "The system shall let {user} search and filter past {noun}s.",
    ),
    (
        "",
        "accessib keyboard",
        "should",
        "Accessible interface",
        "The system shall let {user} complete every flow with a keyboard or a screen reader.",
    ),
    (
        "integration",
        "webhook",
        "could",
        "Integrate through an API",
        "The system shall expose a documented API and webhooks for integrations.",
    ),
    (
        "",
        "onboard",
        "could",
        "Guided onboarding",
        "The system shall guide first-time {user} through a short onboarding.",
    ),
    ("", "csv", "could", "Export data", "The system shall let {user} export their {noun}s as CSV."),
    (
        "",
        "preference appearance",
        "could",
        "Personal preferences",
        "The system shall let {user} set language, time zone and appearance preferences.",
    ),
    (
        "",
        "help",
        "could",
        "In-app help",
        "The system shall offer contextual help and a way to contact support.",
    ),
)


def singular_role(role: str) -> str:
    """``"Referring clinicians" → "referring clinician"`` (first plural word made singular)."""
    out, done = [], False
    for w in role.lower().split():
        if not done and w.endswith("s") and not w.endswith("ss"):
            w, done = w[:-1], True
        out.append(w)
    return " ".join(out)


def _requirements(a: Analysis) -> list[JSON]:
    target = a.size(8, 12, 18)
    feats = list(a.features[: a.size(7, 10, 14)])
    n_must = max(3, round(len(feats) * 0.6))
    reqs = [
        {
            "title": clip(f.title, 120),
            "text": clip(f.text, 500),
            "priority": "must" if i < n_must or {"must", "never"} & words(f.text) else "should",
            "source": f"idea sentence {f.sentence + 1}",
        }
        for i, f in enumerate(feats)
    ]
    covered = " ".join(f.text.lower() for f in feats)
    sso = " (with single sign-on for organisations)" if a.has("multitenant") else ""
    for signal, cues, prio, title, text in _TEMPLATES:
        if len(reqs) >= target and prio == "could":
            break
        if (signal and not a.has(signal)) or any(c in covered for c in cues.split()):
            continue
        reqs.append(
            {
                "title": title,
                "text": text.format(user=a.primary_user, noun=a.noun, sso=sso),
                "priority": prio,
                "source": f"signal: {signal}" if signal else "product baseline",
            }
        )
    return [{"id": seq("FR", i), **r} for i, r in enumerate(reqs[: max(target, len(feats) + 4)], 1)]


def _nfrs(a: Analysis) -> list[JSON]:
    s = a.scale
    rps = max(10, round(s.users * 0.02))
    items = [
        (
            "performance",
            f"p95 API latency <= {(300, 250, 200)[a.level]} ms at {rps} requests/s",
            "Core flows feel instant.",
        )
    ]
    if a.has("iot") and s.devices:
        msgs = max(1, round(s.devices * 50 / max(s.interval_s, 1)))
        items.append(
            (
                "performance",
                f"Ingest {msgs} readings/s (p95 <= 2000 ms from device to chart)",
                "Live charts must be live.",
            )
        )
    if a.has("ml"):
        items.append(
            (
                "performance",
                f"p95 analysis time <= 60000 ms per study at {max(1, s.daily_volume // 8640)} requests/s",
                "Results must arrive before the read.",
            )
        )
    items += [
        (
            "availability",
            f"{s.availability:g} % monthly availability",
            "Stated by the idea or typical for its size.",
        ),
        (
            "security",
            "TLS 1.2+ in transit; AES-256 at rest; MFA for privileged roles",
            "Baseline protection of user data.",
        ),
        ("accessibility", "WCAG 2.2 AA for every user-facing screen", "Inclusive by default."),
    ]
    if a.compliance:
        items.append(
            (
                "compliance",
                f"Evidence for {human_list(a.compliance)} maintained continuously",
                "Required to sell.",
            )
        )
    if a.level:
        items.append(
            (
                "scalability",
                f"Scale to {s.users:,} users and {s.tenants:,} tenants without redesign",
                "Growth plan.",
            )
        )
    if a.has("offline"):
        items.append(
            (
                "reliability",
                "No edit made offline is ever lost; conflicts resolve deterministically",
                "Trust in sync.",
            )
        )
    return [
        {"id": seq("NFR", i), "category": c, "target": t, "rationale": r}
        for i, (c, t, r) in enumerate(items, 1)
    ]


@generator("prd")
def prd(ctx: Ctx) -> JSON:
    a = ctx.a
    reqs = _requirements(a)
    return {
        "summary": clip(f"{a.title}: {a.summary}", 1000),
        "requirements": reqs,
        "nfrs": _nfrs(a),
        "out_of_scope": list(ctx.upstream("idea-spec").get("out_of_scope", []))[:10],
    }


def _outcome(key: str) -> str:
    return {
        "sync": "the change is saved locally at once and synced within 30 s of reconnecting",
        "alerts": "a notification is delivered within 60 s",
        "ml": "the result shows its confidence score and model version",
        "realtime": "every open view updates within 5 s",
        "history": "matching records appear within 1 s",
        "audit": "an audit event records who did what and when",
        "tenancy": "only records of the user's own tenant are visible",
    }.get(key, "the change is saved and confirmed on screen")


def _acceptance(story: JSON, key: str, n: int, extra: bool, next_ac: int) -> list[JSON]:
    who, want = story["as_a"], story["i_want"].removeprefix("to ")
    acs = [
        ("a signed-in " + who, f"they {want}", _outcome(key)),
        (
            "invalid or incomplete input",
            "they submit it",
            "a clear message names the problem and nothing is saved",
        ),
        (
            "a user without permission for the record",
            f"they try to {want}",
            "access is denied and the attempt is audited",
        ),
    ][:n]
    if extra:
        acs.append(
            (
                "the connection drops in the middle of the action",
                "they retry",
                "the action completes exactly once",
            )
        )
    return [
        {"id": seq("AC", next_ac + i), "given": clip(g, 300), "when": clip(w, 300), "then": t}
        for i, (g, w, t) in enumerate(acs)
    ]


def _want(req: Mapping[str, Any]) -> str:
    """The action of a requirement: its text from where its title starts ("drill into ... 13 months")."""
    title, text = str(req.get("title", "")).rstrip("…").strip(), str(req.get("text", "")).rstrip(".")
    at = text.lower().find(title.lower()) if title else -1
    action = text[at:] if at >= 0 else title
    return action[:1].lower() + action[1:]


def _role_for(text: str, roles: list[str]) -> str:
    toks = words(text)
    return next((r for r in roles if words(r) & toks), roles[0] if roles else "user")


@generator("user-stories")
def user_stories(ctx: Ctx) -> JSON:
    a, rng = ctx.a, ctx.rng()
    roles = [str(p.get("role")) for p in ctx.items("personas", "personas")]
    names = {key: name for key, name, _, _ in components(a)}
    epics: dict[str, JSON] = {}
    stories: list[JSON] = []
    next_ac = 1
    for i, r in enumerate(ctx.items("prd", "requirements"), 1):
        text = f"{r.get('title')} {r.get('text')}"
        key = component_keys(text, a)[0]
        epic = epics.setdefault(
            key,
            {"id": seq("EP", len(epics) + 1, 2), "title": names.get(key, cap(key)), "requirement_ids": []},
        )
        epic["requirement_ids"].append(str(r.get("id")))
        sid = seq("ST", i)
        story: JSON = {
            "id": sid,
            "epic_id": epic["id"],
            "title": clip(str(r.get("title")), 160),
            "as_a": clip(singular_role(_role_for(text, roles)), 120),
            "i_want": clip("to " + _want(r), 300),
            "so_that": rng.choice(
                [
                    "nothing falls through the cracks",
                    "I save time every day",
                    "I can trust what I see",
                    "I can act before it becomes a problem",
                ]
            ),
            "priority": str(r.get("priority", "should")),
            "points": rng.choice([2, 3, 5]) + (3 if key in ("ml", "sync", "ingest", "integration") else 0),
        }
        flagged = bool({sid, str(r.get("id"))} & ctx.flagged)
        story["acceptance"] = _acceptance(story, key, a.size(2, 2, 3), flagged, next_ac)
        story["requirement_ids"] = [str(r.get("id"))]
        next_ac += len(story["acceptance"])
        stories.append(story)
    return {"epics": list(epics.values())[:20], "stories": stories[:80]}


@generator("rtm")
def rtm(ctx: Ctx) -> JSON:
    return {"rows": trace_rows(ctx)[:100]}


def trace_rows(ctx: Ctx) -> list[JSON]:
    """One row per FR and NFR: the stories that list it and their acceptance criteria."""
    stories = ctx.items("user-stories", "stories")
    prd_doc = ctx.upstream("prd")
    rows = []
    for r in list(prd_doc.get("requirements", [])) + list(prd_doc.get("nfrs", [])):
        rid = str(r.get("id"))
        mine = [s for s in stories if rid in s.get("requirement_ids", [])]
        rows.append(
            {
                "requirement_id": rid,
                "story_ids": [str(s.get("id")) for s in mine],
                "acceptance_ids": [str(c.get("id")) for s in mine for c in s.get("acceptance", [])],
            }
        )
    return rows
