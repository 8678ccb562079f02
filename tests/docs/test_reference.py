"""The docs say what the code does: every hook, RPC, REST path, phase, metric, alert, command
and repository path they name is checked against the code it describes."""

from __future__ import annotations

import importlib.util
import inspect
import re
import subprocess
from types import ModuleType

import pytest
import yaml

from ideamine import hookspecs
from ideamine.catalogue import load_catalogue
from tests.docs.support import DOCS, ROOT, read, section, table_rows

DOC_FILES = sorted(p.name for p in DOCS.glob("*.md"))


def _gen_api_docs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_api_docs", ROOT / "scripts" / "gen_api_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _hooks() -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(fn)
        for name, fn in vars(hookspecs).items()
        if name.startswith(f"{hookspecs.PROJECT_NAME}_") and inspect.isfunction(fn)
    }


def test_the_guide_has_every_hook_with_when_arguments_and_returns() -> None:
    text = read("plugins.md")
    hooks = _hooks()
    assert len(hooks) >= 4
    for name, sig in hooks.items():
        body = section(text, f"### {name}")
        assert body, f"docs/plugins.md has no '### {name}' section"
        for label in ("**When**", "**Arguments**", "**Returns**"):
            assert label in body, f"{name}: the section does not say {label}"
        for param in sig.parameters:
            assert f"`{param}`" in body, f"{name}: argument {param!r} is not described"
        if not sig.parameters:
            assert "**Arguments**: none" in body
    documented = set(re.findall(r"^### (ideamine_\w+)$", text, re.MULTILINE))
    assert documented == set(hooks), "docs/plugins.md documents hooks that do not exist"


def test_the_guide_names_the_one_place_that_consults_the_llm_provider_hook() -> None:
    """plugins.md says ``make_provider`` asks the plugins; no other code may call the hook."""
    body = section(read("plugins.md"), "### ideamine_register_llm_providers")
    assert "`ideamine.llm.providers.make_provider`" in body
    found = subprocess.run(
        ["git", "grep", "-l", "ideamine_register_llm_providers", "--", "*.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    callers = [f for f in found if f != "ideamine/hookspecs.py" and not f.startswith("tests/")]
    assert callers == ["ideamine/llm/providers.py"], f"called from {callers}: update docs/plugins.md"


def test_api_md_is_what_the_generator_writes_from_the_descriptor_set() -> None:
    expected = _gen_api_docs().render_api_docs()
    assert read("api.md") == expected, "docs/api.md is stale: run venv/bin/python scripts/gen_api_docs.py"


def test_api_md_names_every_service_rpc_and_rest_path() -> None:
    from gateway.routes import load_routes

    text = read("api.md")
    table = load_routes()
    ours = [f for f in table.descriptor_set.file if f.package == "ideamine.v1"]
    services = [s for f in ours for s in f.service]
    assert len(services) >= 10
    for svc in services:
        body = section(text, f"### {svc.name}")
        assert body, f"api.md has no section for {svc.name}"
        for method in svc.method:
            assert f"| `{method.name}` |" in body, f"api.md: {svc.name}.{method.name} is missing"
    rest = section(text, "## REST paths")
    assert len(table.routes) >= 25
    for route in table.routes:
        assert f"| `{route.verb}` | `{route.path}` |" in rest, f"api.md: {route.verb} {route.path} is missing"


def test_api_md_says_which_process_serves_each_service() -> None:
    gen = _gen_api_docs()
    orchestrator = (ROOT / "orchestrator" / "servicers" / "__init__.py").read_text(encoding="utf-8")
    agent_host = (ROOT / "agent_host" / "server.py").read_text(encoding="utf-8")
    for name in gen.SERVICE_ORDER:
        served_by_host = f"add_{name}Servicer_to_server" in agent_host
        assert served_by_host == (name in gen.AGENT_HOST_SERVICES), name
        assert served_by_host or f'"{name}"' in orchestrator, f"{name} is served by neither process"


def test_make_proto_regenerates_api_md() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    proto = re.search(r"^proto:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert proto and "scripts/gen_api_docs.py" in proto.group(1)


def _fmt(x: float) -> str:
    return f"{x:g}"


def test_concepts_phase_table_matches_the_catalogue() -> None:
    rows = table_rows(read("concepts.md"), r"`[a-z-]+`")
    catalogue = load_catalogue()
    assert list(rows) == [f"`{p.name}`" for p in catalogue.phases]
    for p in catalogue.phases:
        _, needs, tasks, gate, metrics, budget = rows[f"`{p.name}`"]
        assert needs == (", ".join(p.needs) or "—"), p.name
        for t in p.tasks:
            assert f"{t.key} → {', '.join(t.produces)}" in tasks, (p.name, t.key)
            assert ("(per story)" in tasks) == any(x.per_story for x in p.tasks)
        assert gate == f"{_fmt(p.gate.min_score)} / {p.gate.max_attempts}", p.name
        documented = re.findall(r"`(\w+)` (>=|<=|==|between) ([\d.–]+)( \*)?( †)?", metrics)
        assert len(documented) == len(p.gate.metrics), (p.name, metrics)
        for m, (name, op, threshold, req, never) in zip(p.gate.metrics, documented, strict=True):
            want = (
                "–".join(_fmt(x) for x in m.threshold)
                if isinstance(m.threshold, tuple)
                else _fmt(m.threshold)
            )
            assert (name, op, threshold) == (m.metric, m.op, want), (p.name, m.metric)
            assert bool(req) == m.required and bool(never) == m.never_waivable, (p.name, m.metric)
        assert budget == f"{p.budget.tokens:,} / {_fmt(p.budget.wall_clock_minutes)} min", p.name


def test_concepts_numbers_match_the_code() -> None:
    from ideamine.store._shared import THRESHOLDS
    from orchestrator.engine.deps import EngineSettings
    from orchestrator.engine.planner import MAX_STORIES
    from orchestrator.gates.scoring import WARN_BAND

    text = read("concepts.md")
    d = load_catalogue().defaults
    assert f"confidence is at least {_fmt(d.qav['accept_confidence'])}" in text
    for score, threshold in d.qav["thresholds"].items():
        assert f"{score} {_fmt(threshold)}" in text, score
    assert "Crossing 50, 80, 95 and 100 %" in text and THRESHOLDS == (50, 80, 95, 100)
    assert f"less than {_fmt(WARN_BAND)} points above the minimum" in text
    assert f"at most {MAX_STORIES}" in text
    assert f"up to {EngineSettings().max_task_retries} retries" in text
    assert f"more than {d.max_deliveries} times" in text
    assert f"up to {d.retry['schema_repairs']} repairs" in read("architecture.md")
    assert f"({_fmt(EngineSettings().answer_deadline_seconds / 3600)} hours by default)" in text


def test_operations_lists_every_metric_family_and_the_docs_name_no_other() -> None:
    from prometheus_client import REGISTRY

    import ideamine.metrics  # noqa: F401  (registers every family)

    families = {f.name: f.type for f in REGISTRY.collect() if f.name.startswith("ideamine_")}
    suffix = {"counter": "_total", "info": "_info"}
    exported = {name + suffix.get(kind, "") for name, kind in families.items()}
    rows = table_rows(section(read("operations.md"), "## Metrics"), r"`ideamine_\w+`")
    assert {r.strip("`") for r in rows} == exported
    prose = "\n".join(read(d) for d in DOC_FILES if d != "api.md")
    named = set(re.findall(r"\bideamine_[a-z_]*[a-z]", prose)) - set(_hooks())
    unknown = {n for n in named if re.sub(r"_(total|bucket|count|sum|info)$", "", n) not in families}
    assert unknown == set(), f"the docs name metrics that do not exist: {sorted(unknown)}"


def test_operations_lists_every_alert_with_its_severity() -> None:
    alerts = {}
    for path in sorted((ROOT / "monitoring" / "alerts").glob("*.yml")):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    alerts[rule["alert"]] = rule["labels"]["severity"]
    rows = table_rows(section(read("operations.md"), "## Alerts"), r"`IdeaMine\w+`")
    assert {r.strip("`"): cells[1] for r, cells in rows.items()} == alerts


_TOP = ("ideamine", "orchestrator", "agent_host", "gateway", "plugins", "proto", "migrations", "k8s",
        "monitoring", "docker", "scripts", "examples", "tests", "docs")  # fmt: skip
_FILES = ("Makefile", "README.md", "docker-compose.yml", "pyproject.toml")


@pytest.mark.parametrize("doc", DOC_FILES)
def test_every_repository_path_and_link_a_doc_names_exists(doc: str) -> None:
    text = read(doc)
    paths = set(re.findall(r"`((?:" + "|".join(_TOP) + r")/[\w./*-]*)`", text))
    paths |= set(re.findall("`(" + "|".join(re.escape(f) for f in _FILES) + ")`", text))
    for name in sorted(paths):
        matches = list(ROOT.glob(name)) if "*" in name else [ROOT / name]
        assert matches and all(m.exists() for m in matches), f"{doc} names {name}, which does not exist"
    for link in re.findall(r"\]\(([^)#\s]+)\)", text):
        if not link.startswith(("http://", "https://")):
            assert (DOCS / link).exists(), f"{doc} links to {link}, which does not exist"


def _code(text: str) -> str:
    """Shell blocks and inline code spans: where commands are shown."""
    fenced = re.findall(r"^```(?:bash|sh|)\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    inline = re.findall(r"`([^`\n]+)`", re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL))
    return "\n".join(fenced + inline)


@pytest.mark.parametrize("doc", DOC_FILES)
def test_every_ideamine_command_a_doc_shows_exists(doc: str) -> None:
    from ideamine.cli.main import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    commands = set(sub.choices or ())
    used = set(re.findall(r"(?:^|[\s/(\"'])ideamine ([a-z][a-z-]*)", _code(read(doc)), re.MULTILINE))
    assert used - commands == set(), f"{doc} shows commands that do not exist"
