"""``docs/openapi.yaml`` is generated from the protos' HTTP annotations and matches them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from gateway.openapi import build_openapi, render_openapi
from gateway.routes import load_routes

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "openapi.yaml"


def _doc() -> dict[str, Any]:
    return dict(yaml.safe_load(DOC.read_text()))


def test_the_committed_document_is_regenerated_identically(tmp_path: Path) -> None:
    out = tmp_path / "openapi.yaml"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_openapi.py"), "--out", str(out)], check=True)
    assert out.read_text() == DOC.read_text(), "docs/openapi.yaml is stale: run scripts/gen_openapi.py"
    assert render_openapi(load_routes()) == DOC.read_text()


def test_check_mode_fails_on_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "openapi.yaml"
    stale.write_text(DOC.read_text().replace("Lists the phases", "Lists the fazes"))
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_openapi.py"), "--check", "--out", str(stale)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1 and "stale" in done.stderr


def test_every_rest_binding_is_an_operation() -> None:
    doc = _doc()
    table = load_routes()
    operations = {(verb.upper(), path) for path, ops in doc["paths"].items() for verb in ops}
    assert operations == {(r.verb, r.path) for r in table.routes} | {("GET", "/healthz")}
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))


def test_every_reference_resolves() -> None:
    doc = _doc()
    text = DOC.read_text()
    for ref in set(re.findall(r"\$ref: '#/components/(\w+)/([\w.]+)'", text)):
        assert ref[1] in doc["components"][ref[0]], ref


def test_json_mapping_details() -> None:
    schemas = _doc()["components"]["schemas"]
    run = schemas["Run"]["properties"]
    assert run["id"]["readOnly"] is True  # OUTPUT_ONLY
    assert "idea" in schemas["Run"]["required"]  # REQUIRED
    assert run["created_at"] == {"type": "string", "format": "date-time", "readOnly": True,
                                 "description": "When the run was created."}  # fmt: skip
    assert schemas["RunEvent"]["properties"]["seq"]["type"] == "string"  # int64 → decimal string
    assert "PHASE_INTAKE" in schemas["Phase"]["enum"]
    assert "description" in schemas["Run"]


def test_bodies_parameters_and_streams() -> None:
    paths = _doc()["paths"]
    create = paths["/v1/runs"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Run"
    }
    cancel = paths["/v1/runs/{run_id}:cancel"]["post"]
    body = cancel["requestBody"]["content"]["application/json"]["schema"]
    assert "run_id" not in body["properties"] and "reason" in body["properties"]  # bound from the path
    list_runs = paths["/v1/runs"]["get"]
    (statuses,) = [p for p in list_runs["parameters"] if p["name"] == "statuses"]
    assert statuses["schema"]["type"] == "array" and statuses["explode"] is True
    watch = paths["/v1/runs/{run_id}:watch"]["get"]["responses"]["200"]["content"]
    assert list(watch) == ["text/event-stream"]
    assert paths["/healthz"]["get"]["security"] == []


def test_internal_services_are_not_documented() -> None:
    doc = build_openapi(load_routes())
    tags = {t["name"] for t in doc["tags"]}
    assert "HostRegistryService" not in tags and "AgentHostService" not in tags
