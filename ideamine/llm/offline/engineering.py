"""Generators of architecture and build: components, data model, API, infrastructure, repo, CI."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ideamine.llm.offline.analysis import Analysis
from ideamine.llm.offline.catalog import COMPONENTS, ENTITIES
from ideamine.llm.offline.ctx import JSON, Ctx, seq
from ideamine.llm.offline.registry import generator
from ideamine.llm.offline.text import cap, clip, human_list, slug, snake, words

__all__ = ["Component", "components", "component_keys", "component_key_of"]

Component = tuple[str, str, str, frozenset[str]]  #: (key, name, responsibility, keywords)


def components(a: Analysis) -> list[Component]:
    """The components the idea needs, in dependency order (the architecture numbers them so)."""
    client = (
        "Web dashboard"
        if a.has("iot") or a.has("realtime")
        else "Mobile app"
        if a.has("mobile")
        else "Web app"
    )
    out: list[Component] = []
    for key, signal, name, resp, kws in COMPONENTS:
        if signal and not a.has(signal):
            continue
        keywords = frozenset(kws.split()) | (frozenset(a.nouns) if key == "core" else frozenset())
        out.append((key, name.format(client=client, noun=cap(a.noun)), resp, keywords))
    return out


def component_keys(text: str, a: Analysis) -> list[str]:
    """Keys of the components a requirement's text touches (the core service when none match)."""
    toks = words(text)
    scored = [(len(kws & toks), i, key) for i, (key, _, _, kws) in enumerate(components(a)) if kws & toks]
    return [key for _, _, key in sorted(scored, key=lambda x: (-x[0], x[1]))] or ["core"]


def component_key_of(name: str, a: Analysis) -> str:
    """The component key behind a component name (names may come from another model)."""
    toks = words(name)
    for key, cname, _, _kws in components(a):
        if cname.lower() == name.lower():
            return key
    for key, cname, _, kws in components(a):
        if words(cname) & toks or kws & toks:
            return key
    return "core"


def _tech(key: str, stack: Mapping[str, Any]) -> str:
    field = {"client": "frontend", "datastore": "data", "registry": "data"}.get(key, "backend")
    return clip(str(stack.get(field) or "Python"), 160)


@generator("architecture")
def architecture(ctx: Ctx) -> JSON:
    a = ctx.a
    comps = components(a)
    ids = {key: seq("CMP", i, 2) for i, (key, *_) in enumerate(comps, 1)}
    mapped: dict[str, list[str]] = {key: [] for key in ids}
    for r in ctx.items("prd", "requirements"):
        for key in component_keys(f"{r.get('title')} {r.get('text')}", a):
            mapped[key if key in mapped else "core"].append(str(r.get("id")))
    stack = ctx.upstream("tech-stack")
    deps = {"client": ["gateway"], "gateway": ["identity", "core"], "datastore": []}
    out = [
        {
            "id": ids[key],
            "name": name,
            "responsibility": resp,
            "technology": _tech(key, stack),
            "requirement_ids": sorted(set(mapped[key])),
            "depends_on": [ids[d] for d in deps.get(key, ["datastore"]) if d in ids],
        }
        for key, name, resp, _ in comps
    ]
    adrs = [
        (
            "Modular monolith first" if a.level < 2 else "Services split along the component boundaries",
            f"A {a.complexity}-complexity product with a ${a.budget_usd:,.0f} budget.",
            "Deploy one unit with enforced module boundaries"
            if a.level < 2
            else "Deploy each component independently",
            "Simpler operations now; extraction later needs care."
            if a.level < 2
            else "Independent scaling; more operational work.",
        ),
        (
            "PostgreSQL as the system of record",
            "Records are relational and need transactions.",
            "Use PostgreSQL with migrations; no second primary store.",
            "One backup and recovery story.",
        ),
        (
            "OIDC for identity",
            "Users sign in on several devices"
            + (" and institutions need SSO" if a.has("multitenant") else "")
            + ".",
            "Delegate authentication to an OIDC provider; the API validates JWTs.",
            "No password storage in our code.",
        ),
    ]
    extra = {
        "offline": (
            "Offline-first with per-field last-writer-wins",
            "Edits happen without connectivity.",
            "Queue operations locally; merge per field with vector clocks.",
            "Conflicts are rare and explainable.",
        ),
        "iot": (
            "MQTT ingestion through a managed broker",
            "Devices report every few seconds.",
            "Devices publish to a managed MQTT broker; a consumer batches into the time-series store.",
            "Broker cost scales with devices.",
        ),
        "multitenant": (
            "Row-level security for tenancy",
            "Tenants must never see each other's data.",
            "Tenant id on every table with PostgreSQL row-level security.",
            "Every query is tenant-scoped by default.",
        ),
        "ml": (
            "Human in the loop for every model result",
            "Automated results can be wrong.",
            "Results are suggestions until a clinician or operator confirms them.",
            "Slower, but safe and auditable.",
        ),
        "compliance": (
            "Append-only audit log",
            f"{human_list(a.compliance)} require evidence of access.",
            "Write audit events to an append-only, hash-chained table.",
            "Storage grows; evidence is cheap.",
        ),
    }
    adrs += [v for k, v in extra.items() if a.has(k)]
    decisions = [
        {
            "id": seq("ADR", i),
            "title": t,
            "status": "accepted",
            "context": clip(c, 600),
            "decision": d,
            "consequences": q,
        }
        for i, (t, c, d, q) in enumerate(adrs[: a.size(3, 5, 8)], 1)
    ]
    return {
        "style": "modular monolith" if a.level < 2 else "service-oriented",
        "overview": clip(
            f"{a.title}: {len(out)} components; " + ", ".join(name for _, name, _, _ in comps) + ".", 1000
        ),
        "components": out,
        "decisions": decisions,
    }


def _entity_plan(a: Analysis) -> list[tuple[str, str, str, str]]:
    """(noun key, entity name, field spec, related nouns) for the idea's entities."""
    keys = ["user"]
    if a.has("multitenant"):
        keys.append("institution" if "institution" in a.nouns else "tenant")
    keys += [n for n in a.nouns if n not in keys and n not in ("tenant", "institution")]
    keys = keys[: a.size(5, 8, 11)] + (["audit"] if a.has("compliance") else [])
    return [(k, *ENTITIES[k]) for k in keys]


@generator("data-model")
def data_model(ctx: Ctx) -> JSON:
    a = ctx.a
    plan = _entity_plan(a)
    ids = {k: seq("ENT", i, 2) for i, (k, *_) in enumerate(plan, 1)}
    tenant_key = next((k for k in ("institution", "tenant") if k in ids), None)
    entities = []
    for key, name, spec, related in plan:
        fields = [{"name": "id", "type": "uuid", "required": True, "pii": False}]
        if tenant_key and key != tenant_key:
            fields.append({"name": "tenant_id", "type": "uuid", "required": True, "pii": False})
        for f in spec.split():
            fname, ftype = f.rstrip("!*").split(":")
            fields.append({"name": fname, "type": ftype, "required": "!" in f, "pii": "*" in f})
        fields.append({"name": "created_at", "type": "datetime", "required": True, "pii": False})
        rels = []
        for r in related.split():
            target = tenant_key if r in ("tenant", "institution") else r
            if target in ids and target != key:
                rels.append(
                    {
                        "target": ids[target],
                        "kind": "many-to-one",
                        "description": f"each {name} belongs to one {ENTITIES[target][0]}",
                    }
                )
        entities.append(
            {
                "id": ids[key],
                "name": name,
                "description": clip(f"{name} records of {a.title}.", 300),
                "fields": fields,
                "relations": rels,
            }
        )
    return {
        "storage": "PostgreSQL 16" + (" with TimescaleDB hypertables for readings" if a.has("iot") else ""),
        "retention": "Audit events 6 years; personal data deleted 30 days after account closure."
        if a.has("compliance")
        else "Personal data deleted 30 days after account closure.",
        "entities": entities,
    }


def _plural_path(name: str) -> str:
    s = slug(name)
    return "/" + (s[:-1] + "ies" if s.endswith("y") else s + "es" if s.endswith("s") else s + "s")


@generator("api-design")
def api_design(ctx: Ctx) -> JSON:
    a = ctx.a
    reqs = ctx.items("prd", "requirements")
    endpoints: list[JSON] = []

    def add(method: str, path: str, summary: str, ents: list[str], auth: str, noun: str) -> None:
        rel = [str(r.get("id")) for r in reqs if noun and noun in words(f"{r.get('title')} {r.get('text')}")]
        endpoints.append(
            {
                "id": seq("API", len(endpoints) + 1, 2),
                "method": method,
                "path": path,
                "summary": summary,
                "entity_ids": ents,
                "auth": auth,
                "requirement_ids": rel[:20],
            }
        )

    entities = ctx.items("data-model", "entities")
    user = [str(e.get("id")) for e in entities if e.get("name") == "User"][:1]
    add("POST", "/auth/sessions", "Exchange an OIDC token for a session", user, "public", "sign")
    for e in entities:
        name, eid = str(e.get("name")), str(e.get("id"))
        base, noun = _plural_path(name), snake(name).split("_")[-1]
        admin = name in ("Tenant", "Institution", "AuditEvent", "ModelVersion")
        auth = "admin" if admin else "user"
        if name == "AuditEvent":
            add("GET", base, "List audit events (filterable by actor, target, time)", [eid], "admin", "audit")
            continue
        add("GET", base, f"List {name} records", [eid], auth, noun)
        add("POST", base, f"Create a {name}", [eid], "device" if name == "Reading" else auth, noun)
        add("GET", f"{base}/{{id}}", f"Get one {name}", [eid], auth, noun)
        if len(endpoints) < 90:
            add("PATCH", f"{base}/{{id}}", f"Update a {name}", [eid], auth, noun)
    specials = [
        ("offline", "POST", "/sync", "Push queued offline operations and pull changes"),
        ("realtime", "GET", "/stream", "Subscribe to live updates (WebSocket upgrade)"),
        ("ml", "POST", "/analyses", "Request model analysis of an uploaded item"),
    ]
    core = [str(e.get("id")) for e in entities[1:2]]
    for signal, method, path, summary in specials:
        if a.has(signal) and len(endpoints) < 99:
            add(method, path, summary, core, "user", signal)
    return {
        "style": "rest",
        "base_path": "/api/v1",
        "auth_scheme": "OIDC bearer JWT" + ("; mutual TLS for devices" if a.has("iot") else ""),
        "endpoints": endpoints[:99],
    }


@generator("infrastructure-plan")
def infrastructure_plan(ctx: Ctx) -> JSON:
    a = ctx.a
    avail = a.scale.availability
    rto, rpo = (15, 1) if avail >= 99.99 else (60, 15) if avail >= 99.9 else (240, 60)
    infra = str(ctx.upstream("tech-stack").get("infra", "AWS"))
    return {
        "cloud": clip(infra.split(" with ")[0], 80),
        "regions": ["us-east-1"]
        + (["eu-central-1"] if a.has("eu") else [])
        + (["us-west-2"] if avail >= 99.99 else []),
        "environments": [
            {"name": n, "purpose": p}
            for n, p in (
                ("dev", "Integration of merged work"),
                ("staging", "Production-like release candidate checks"),
                ("prod", "Customer traffic"),
            )
        ],
        "scaling": {
            "strategy": "Horizontal autoscaling on CPU and queue depth; read replicas for reporting.",
            "min_instances": (1, 2, 3)[a.level],
            "max_instances": max(4, a.scale.users // 500),
        },
        "observability": {
            "metrics": "Prometheus with RED metrics per endpoint",
            "logs": "Structured JSON logs, 30-day retention",
            "traces": "OpenTelemetry traces to a managed backend",
            "alerting": f"SLO burn-rate alerts for {avail:g} % availability",
        },
        "dr": {
            "rto_minutes": rto,
            "rpo_minutes": rpo,
            "strategy": "Multi-region warm standby"
            if avail >= 99.99
            else "Point-in-time restore into a second zone",
        },
    }


@generator("repo-blueprint")
def repo_blueprint(ctx: Ctx) -> JSON:
    a = ctx.a
    modules = []
    for c in ctx.items("architecture", "components"):
        name = str(c.get("name"))
        key = component_key_of(name, a)
        path = {"client": "apps/mobile" if "mobile" in name.lower() else "apps/web", "datastore": "db"}.get(
            key, f"services/{slug(name)}"
        )
        modules.append(
            {
                "path": path,
                "component_id": str(c.get("id")),
                "purpose": clip(str(c.get("responsibility")), 300),
            }
        )
    return {
        "layout": "monorepo",
        "modules": modules,
        "conventions": [
            "One module per component; imports only through public interfaces",
            "Every module has its own tests/ and README",
            "Conventional commits; trunk-based development",
        ],
    }


@generator("ci-pipeline")
def ci_pipeline(ctx: Ctx) -> JSON:
    backend = str(ctx.upstream("tech-stack").get("backend", ""))
    py = "python" in backend.lower()
    stages = [
        ("Lint", "lint", ["ruff check ." if py else "eslint .", "prettier --check ."]),
        ("Type check", "typecheck", ["mypy --strict ." if py else "tsc --noEmit"]),
        ("Unit and integration tests", "test", ["pytest -q" if py else "npm test"]),
        ("Security scan", "security", ["semgrep ci", "trivy fs --exit-code 1 ."]),
        ("Build images", "build", ["docker buildx build --push ."]),
        ("SBOM", "sbom", ["syft packages dir:. -o cyclonedx-json"]),
        ("Sign", "sign", ["cosign sign --yes $IMAGE"]),
        ("Deploy to staging", "deploy", ["helm upgrade --install app chart/"]),
    ]
    return {
        "provider": "GitHub Actions",
        "triggers": ["pull_request", "push to main", "tag v*"],
        "stages": [{"name": n, "kind": k, "commands": c, "blocking": k != "deploy"} for n, k, c in stages],
    }


@generator("environment-plan")
def environment_plan(ctx: Ctx) -> JSON:
    a = ctx.a
    return {
        "envs": [
            {
                "name": "dev",
                "purpose": "Shared integration environment",
                "data": "synthetic",
                "promotion": "Every merge to main",
            },
            {
                "name": "staging",
                "purpose": "Release candidates, load and security tests",
                "data": "anonymised" if a.level else "synthetic",
                "promotion": "Tagged release after green pipeline",
            },
            {
                "name": "prod",
                "purpose": "Customers",
                "data": "production",
                "promotion": "Manual approval after staging soak",
            },
        ],
        "iac": "Terraform modules per environment, remote state with locking, plan on every pull request",
        "secrets_handling": "Secrets in a cloud secret manager, injected at runtime through workload identity, rotated every 90 days"
        + (", with access audited for " + human_list(a.compliance) if a.compliance else ""),
    }
