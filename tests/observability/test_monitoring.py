"""monitoring/: promtool checks the config, the rules and each alert's unit tests; dashboards
and alerts only use metrics the code exports (compared with a live scrape)."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ideamine.metrics import start_metrics_server
from tests.observability.promql import UnknownFunction, metric_names
from tests.observability.scrape import scrape

ROOT = Path(__file__).resolve().parents[2]
MON = ROOT / "monitoring"
ALERT_FILES = sorted((MON / "alerts").glob("*.yml"))
ALERT_TESTS = sorted((MON / "alerts" / "tests").glob("*.yml"))
DASHBOARDS = sorted((MON / "grafana").glob("*.json"))
#: series Prometheus itself makes (not exported by our code)
SYNTHETIC = {"up", "ALERTS", "ALERTS_FOR_STATE"}
#: Grafana macros → durations promtool accepts
MACROS = {"$__rate_interval": "5m", "$__range": "1h", "$__interval": "1m"}

_spec = importlib.util.spec_from_file_location("gen_dashboards", ROOT / "scripts" / "gen_dashboards.py")
assert _spec is not None and _spec.loader is not None
gen_dashboards = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = gen_dashboards  # dataclasses look their module up while it loads
_spec.loader.exec_module(gen_dashboards)


@pytest.fixture(scope="module")
def promtool() -> str:
    """promtool, installed by scripts/tools when missing (skips only if that is impossible)."""
    found = shutil.which("promtool")
    if found is None:
        done = subprocess.run([str(ROOT / "scripts" / "tools")], capture_output=True, text=True, check=False)
        found = shutil.which("promtool")
        if found is None:
            pytest.skip(
                f"promtool is not installed and scripts/tools could not install it: {done.stderr.strip()}"
            )
    return found


def _run(promtool: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, *map(str, args)], capture_output=True, text=True, check=False, cwd=MON)


def _rules() -> list[dict[str, Any]]:
    return [r for f in ALERT_FILES for g in yaml.safe_load(f.read_text())["groups"] for r in g["rules"]]


def _panels() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            yield path.name, panel


def _expand(expr: str) -> str:
    for macro, value in MACROS.items():
        expr = expr.replace(macro, value)
    return expr


@pytest.fixture(scope="module")
def exported() -> set[str]:
    """Every sample name /metrics can export, from a live scrape over HTTP."""
    import agent_host.worker  # noqa: F401  (every instrumented module, as the services import them)
    import ideamine.rpc.metrics  # noqa: F401
    import orchestrator.engine.driver  # noqa: F401

    server = start_metrics_server(0)
    try:
        return scrape(server.port).names()
    finally:
        server.close()


# ------------------------------------------------------------------ promtool
def test_promtool_checks_the_static_config_with_its_rule_files(promtool: str) -> None:
    done = _run(promtool, "check", "config", MON / "prometheus" / "prometheus.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(ALERT_FILES)} rule files found" in done.stdout + done.stderr


def test_promtool_checks_every_rule_file(promtool: str) -> None:
    done = _run(promtool, "check", "rules", *ALERT_FILES)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sum(int(n) for n in re.findall(r"SUCCESS: (\d+) rules found", done.stdout)) == len(_rules())


def test_promtool_unit_tests_pass(promtool: str) -> None:
    done = _run(promtool, "test", "rules", *ALERT_TESTS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("SUCCESS") == len(ALERT_TESTS)


def test_promtool_rejects_broken_rules_and_configs(promtool: str, tmp_path: Path) -> None:
    bad_rule = tmp_path / "bad.yml"
    bad_rule.write_text(
        yaml.safe_dump({"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "rat(x[5m]) > 1"}]}]})
    )
    assert _run(promtool, "check", "rules", bad_rule).returncode != 0
    config = yaml.safe_load((MON / "prometheus" / "prometheus.yml").read_text())
    config["global"]["scrape_intervall"] = "15s"
    bad_config = tmp_path / "prometheus.yml"
    bad_config.write_text(yaml.safe_dump(config))
    assert _run(promtool, "check", "config", bad_config).returncode != 0


def test_every_alert_fires_in_a_unit_test() -> None:
    fired: set[str] = set()
    for path in ALERT_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            fired |= {t["alertname"] for t in case.get("alert_rule_test", []) if t.get("exp_alerts")}
    assert fired == {r["alert"] for r in _rules()}


def test_issue_alerts_exist_with_severity_and_a_runbook() -> None:
    rules = {r["alert"]: r for r in _rules()}
    wanted = {
        "IdeaMineServiceDown",
        "IdeaMineHighTaskFailureRate",
        "IdeaMineDeadLettersGrowing",
        "IdeaMineQueueWaitP99High",
        "IdeaMineTasksStalled",
        "IdeaMineBudgetOver80Percent",
        "IdeaMineBudgetExhausted",
        "IdeaMineGateFailingRepeatedly",
        "IdeaMineSlowPhase",
        "IdeaMineLLMErrorRateHigh",
        "IdeaMineLLMCircuitOpen",
        "IdeaMinePostgresUnreachable",
        "IdeaMineRedisUnreachable",
    }
    assert wanted == set(rules)
    runbooks = (MON / "RUNBOOKS.md").read_text()
    anchors = {h.strip().lower() for h in re.findall(r"^## (.+)$", runbooks, re.MULTILINE)}
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        assert {"summary", "description", "runbook_url"} <= set(rule["annotations"]), name
        assert rule["annotations"]["runbook_url"] == f"monitoring/RUNBOOKS.md#{name.lower()}"
        assert name.lower() in anchors, f"no runbook section for {name}"


# ------------------------------------------------------------- k8s variant
def _k8s_config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((MON / "prometheus" / "prometheus-k8s.yml").read_text())
    return config


def _scraped_deployments() -> dict[str, int]:
    """app name → metrics port of every k8s workload annotated for scraping."""
    out = {}
    for path in sorted((ROOT / "k8s").rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not isinstance(doc, dict) or doc.get("kind") not in ("Deployment", "StatefulSet"):
                continue
            meta = doc["spec"]["template"]["metadata"]
            if meta.get("annotations", {}).get("prometheus.io/scrape") == "true":
                out[meta["labels"]["app.kubernetes.io/name"]] = int(meta["annotations"]["prometheus.io/port"])
    return out


def _relabel(rules: list[dict[str, Any]], labels: dict[str, str]) -> dict[str, str] | None:
    """Apply Prometheus relabel rules (keep/drop/replace) the way Prometheus does."""
    labels = dict(labels)
    for rule in rules:
        value = rule.get("separator", ";").join(labels.get(s, "") for s in rule.get("source_labels", []))
        match = re.fullmatch(rule.get("regex", "(.*)"), value)
        action = rule.get("action", "replace")
        if action == "keep" and not match:
            return None
        if action == "drop" and match:
            return None
        if action == "replace" and match:
            template = re.sub(r"\$(\d+)", r"\\\1", rule.get("replacement", "$1"))  # $1 → \1
            labels[rule["target_label"]] = match.expand(template)
    return labels


def test_k8s_variant_scrapes_what_the_manifests_annotate_under_the_static_job_names() -> None:
    config = _k8s_config()
    static = yaml.safe_load((MON / "prometheus" / "prometheus.yml").read_text())
    assert config["global"] == static["global"]
    (job,) = config["scrape_configs"]
    (sd,) = job["kubernetes_sd_configs"]
    assert sd["role"] == "pod" and sd["namespaces"]["names"] == ["ideamine"]
    static_jobs = {j["job_name"]: j["static_configs"][0]["targets"][0] for j in static["scrape_configs"]}
    deployments = _scraped_deployments()
    assert set(deployments) == {"orchestrator", "agent-host"}
    for app, port in deployments.items():
        pod = {
            "__address__": "10.1.2.3:50051",
            "__meta_kubernetes_pod_annotation_prometheus_io_scrape": "true",
            "__meta_kubernetes_pod_annotation_prometheus_io_port": str(port),
            "__meta_kubernetes_pod_annotation_prometheus_io_path": "/metrics",
            "__meta_kubernetes_pod_label_app_kubernetes_io_name": app,
            "__meta_kubernetes_pod_phase": "Running",
            "__meta_kubernetes_pod_name": f"{app}-abc",
            "__meta_kubernetes_namespace": "ideamine",
        }
        target = _relabel(job["relabel_configs"], pod)
        assert target is not None
        assert target["job"] in static_jobs, target["job"]
        assert target["__address__"] == f"10.1.2.3:{port}"
        assert static_jobs[target["job"]].endswith(f":{port}")  # same port locally and in k8s
        assert _relabel(job["relabel_configs"], {**pod, "__meta_kubernetes_pod_phase": "Succeeded"}) is None
        unannotated = {**pod, "__meta_kubernetes_pod_annotation_prometheus_io_scrape": ""}
        assert _relabel(job["relabel_configs"], unannotated) is None


def test_k8s_variant_passes_promtool_with_discovery_swapped_for_static_targets(
    promtool: str, tmp_path: Path
) -> None:
    """Debian's promtool lacks kubernetes_sd; everything else (relabel regexes...) it checks."""
    config = copy.deepcopy(_k8s_config())
    for job in config["scrape_configs"]:
        job.pop("kubernetes_sd_configs")
        job["static_configs"] = [{"targets": ["127.0.0.1:9464"]}]
    config["rule_files"] = [str(f) for f in ALERT_FILES]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    done = _run(promtool, "check", "config", path)
    assert done.returncode == 0, done.stdout + done.stderr


# ---------------------------------------------------------------- dashboards
def test_dashboards_are_generated_and_fresh() -> None:
    rendered = gen_dashboards.render()
    assert sorted(rendered) == [p.name for p in DASHBOARDS]
    for path in DASHBOARDS:
        assert path.read_text() == rendered[path.name], f"{path.name} is stale: run scripts/gen_dashboards.py"


@pytest.mark.parametrize(
    ("name", "titles"),
    [
        (
            "orchestrator-overview.json",
            {
                "Active runs",
                "Runs completed",
                "Success rate",
                "Model cost",
                "Run duration",
                "Phase completions",
                "Tokens by phase",
                "Worker utilisation",
                "Gate pass rate",
                "Idempotent hit rate",
                "Phase duration percentiles",
            },
        ),
        (
            "cost-tracking.json",
            {
                "Cost today",
                "Cost per run",
                "Budget utilisation by phase",
                "7-day trend",
                "Cost by phase",
                "Tokens vs budget by phase",
                "Top expensive phases",
                "Budget alerts",
                "Cost per 1k tokens",
                "Monthly projection",
            },
        ),
    ],
)
def test_dashboard_has_the_issue_panels_laid_out_on_the_grid(name: str, titles: set[str]) -> None:
    board = json.loads((MON / "grafana" / name).read_text())
    panels = board["panels"]
    assert titles <= {p["title"] for p in panels}
    assert len({p["id"] for p in panels}) == len(panels)
    assert [v["name"] for v in board["templating"]["list"]] == ["datasource"]
    cells: set[tuple[int, int]] = set()
    for p in panels:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24, p["title"]
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not mine & cells, f"{p['title']} overlaps another panel"
        cells |= mine
        assert p["datasource"]["uid"] == "${datasource}" and p["targets"], p["title"]
        assert all(t["expr"].strip() for t in p["targets"])
    heatmaps = [p for p in panels if p["type"] == "heatmap"]
    assert all(t["format"] == "heatmap" for p in heatmaps for t in p["targets"])


def test_dashboard_queries_pass_promtool(promtool: str, tmp_path: Path) -> None:
    rules = [
        {
            "record": f"dashboard:{Path(name).stem.replace('-', '_')}:{p['id']}_{t['refId']}",
            "expr": _expand(t["expr"]),
        }
        for name, p in _panels()
        for t in p["targets"]
    ]
    path = tmp_path / "dashboards.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    done = _run(promtool, "check", "rules", path)
    assert done.returncode == 0, done.stdout + done.stderr


# ------------------------------------------------------- names vs the code
def test_every_metric_used_by_dashboards_alerts_and_alert_tests_is_exported(exported: set[str]) -> None:
    used: dict[str, set[str]] = {}
    for name, panel in _panels():
        for t in panel["targets"]:
            for metric in metric_names(t["expr"]):
                used.setdefault(metric, set()).add(f"{name}: {panel['title']}")
    for rule in _rules():
        for metric in metric_names(rule["expr"]):
            used.setdefault(metric, set()).add(f"alert {rule['alert']}")
    for path in ALERT_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for series in case.get("input_series", []):
                used.setdefault(series["series"].split("{")[0], set()).add(f"{path.name}: {case['name']}")
    assert len(used) > 20
    missing = {m: sorted(where) for m, where in used.items() if m not in exported | SYNTHETIC}
    assert not missing, f"used but not exported: {missing}"


def test_the_name_check_catches_unknown_metrics_and_functions(exported: set[str]) -> None:
    expr = 'sum by (phase) (rate(ideamine_gate_evaluations_total{decision="fail"}[5m])) / ideamine_nope_total'
    assert metric_names(expr) - exported == {"ideamine_nope_total"}
    assert metric_names("histogram_quantile(0.9, sum by (le) (rate(x_bucket[$__rate_interval]))) > 1e-3") == {
        "x_bucket"
    }
    assert metric_names("up offset 5m and on (job) group_left (instance) ideamine_build_info") == {
        "up",
        "ideamine_build_info",
    }
    with pytest.raises(UnknownFunction):
        metric_names("rat(ideamine_llm_requests_total[5m])")
    assert {
        "ideamine_task_queue_wait_seconds_bucket",
        "ideamine_llm_cost_usd_total",
        "ideamine_build_info",
    } <= exported
