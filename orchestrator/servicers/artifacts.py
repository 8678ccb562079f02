"""ArtifactService: a run's artifacts, their Markdown rendering, and the delivery dossier.

Rendering goes through the plugin manager's ``ideamine_render_artifact`` hook (first
result wins; the built-in generic renderer answers last), so a plugin that ships a
better renderer for its artifact type is used here as in the CLI.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import grpc

from ideamine._proto.ideamine.v1 import artifact_pb2, artifact_pb2_grpc
from ideamine.canonical import canonical_json, sha256_hex
from ideamine.convert import artifact_to_proto, optional_phase
from ideamine.errors import InvalidInput, NotFound
from ideamine.store.records import ArtifactRecord, GateEvaluationRecord, RunRecord
from orchestrator.report import traceability_table
from orchestrator.servicers._common import App, paginate, require, tenant_run

__all__ = ["ArtifactServicer", "dossier_markdown", "dossier_json"]

_MARKDOWN = "text/markdown; charset=utf-8"
_JSON = "application/json"


def _anchor(a: ArtifactRecord) -> str:
    return f"{a.type}-{a.key}".lower() if a.key else a.type


def dossier_markdown(
    run: RunRecord,
    artifacts: Sequence[ArtifactRecord],
    gates: Sequence[GateEvaluationRecord],
    rendered: Sequence[str],
) -> str:
    """One Markdown document: summary, table of contents, gates, traceability, artifacts."""
    lines = [
        f"# {run.title} — delivery dossier",
        "",
        f"- Run `{run.id}`, status **{run.status.value}**",
        f"- Phases: {', '.join(run.phases)}",
        f"- Models: {', '.join(sorted({a.model for a in artifacts})) or '-'}",
        "",
        "## Contents",
        "",
        *[f"- [{a.type}{f' ({a.key})' if a.key else ''}](#{_anchor(a)}) — {a.phase}" for a in artifacts],
        "",
        "## Gates",
        "",
        "| phase | attempt | score | decision |",
        "|---|---|---|---|",
        *[f"| {g.phase} | {g.attempt} | {g.score:.1f} | {g.decision.value} |" for g in gates],
        "",
        "## Traceability matrix",
        "",
        *traceability_table(artifacts),
        "",
    ]
    for a, text in zip(artifacts, rendered, strict=True):
        lines += [f'<a id="{_anchor(a)}"></a>', "", text.rstrip(), "", "---", ""]
    return "\n".join(lines)


def dossier_json(run: RunRecord, artifacts: Sequence[ArtifactRecord]) -> str:
    """Canonical JSON of every artifact keyed by type (per-story types keyed by story id)."""
    by_type: dict[str, Any] = {}
    for a in artifacts:
        if a.key:
            by_type.setdefault(a.type, {})[a.key] = a.content
        else:
            by_type[a.type] = a.content
    doc = {"run": {"id": run.id, "title": run.title, "status": run.status.value}, "artifacts": by_type}
    return canonical_json(doc).decode("utf-8")


class ArtifactServicer(artifact_pb2_grpc.ArtifactServiceServicer):  # type: ignore[misc]
    """Artifacts of the caller's runs."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def _agents(self, run_id: str) -> dict[str, str]:
        """``task id → agent@version`` for the run (who wrote each artifact)."""
        return {t.id: f"{t.agent}@{t.agent_version}" for t in await self.app.store.list_tasks(run_id)}

    async def _artifact(self, run_id: str, artifact_id: str) -> ArtifactRecord:
        run = await tenant_run(self.app, run_id)
        a = await self.app.store.get_artifact(require(artifact_id, "artifact_id", max_chars=100))
        if a.run_id != run.id:
            raise NotFound(f"artifact {artifact_id} not found", artifact_id=artifact_id)
        return a

    def _render(self, a: ArtifactRecord) -> str:
        return str(
            self.app.plugins.hook.ideamine_render_artifact(
                artifact_type=a.type, content=a.content, model=a.model
            )
        )

    async def ListArtifacts(  # noqa: N802
        self, request: artifact_pb2.ListArtifactsRequest, context: grpc.aio.ServicerContext
    ) -> artifact_pb2.ListArtifactsResponse:
        """Artifacts in creation (pipeline) order, filtered by phase, type, latest only."""
        run = await tenant_run(self.app, request.run_id)
        phase = optional_phase(request.phase)
        records, agents = await asyncio.gather(
            self.app.store.list_artifacts(
                run.id, phase=phase, type=request.type or None, latest_only=request.latest_only
            ),
            self._agents(run.id),
        )
        page, token = paginate(records, request.page_size, request.page_token)
        return artifact_pb2.ListArtifactsResponse(
            artifacts=[
                artifact_to_proto(a, agent=agents.get(a.task_id or "", ""), content=not request.omit_content)
                for a in page
            ],
            next_page_token=token,
        )

    async def GetArtifact(  # noqa: N802
        self, request: artifact_pb2.GetArtifactRequest, context: grpc.aio.ServicerContext
    ) -> artifact_pb2.GetArtifactResponse:
        """One artifact with its content."""
        a = await self._artifact(request.run_id, request.artifact_id)
        agents = await self._agents(a.run_id)
        return artifact_pb2.GetArtifactResponse(
            artifact=artifact_to_proto(a, agent=agents.get(a.task_id or "", ""))
        )

    async def RenderArtifact(  # noqa: N802
        self, request: artifact_pb2.RenderArtifactRequest, context: grpc.aio.ServicerContext
    ) -> artifact_pb2.RenderArtifactResponse:
        """The artifact as Markdown, by the render hook."""
        a = await self._artifact(request.run_id, request.artifact_id)
        return artifact_pb2.RenderArtifactResponse(artifact_id=a.id, markdown=self._render(a))

    async def ExportDossier(  # noqa: N802
        self, request: artifact_pb2.ExportDossierRequest, context: grpc.aio.ServicerContext
    ) -> artifact_pb2.ExportDossierResponse:
        """Every latest artifact plus the run's summary, as Markdown (default) or JSON."""
        run = await tenant_run(self.app, request.run_id)
        fmt = request.format or artifact_pb2.DOSSIER_FORMAT_MARKDOWN
        if fmt not in (artifact_pb2.DOSSIER_FORMAT_MARKDOWN, artifact_pb2.DOSSIER_FORMAT_JSON):
            raise InvalidInput(
                "format must be DOSSIER_FORMAT_MARKDOWN or DOSSIER_FORMAT_JSON", field="format"
            )
        artifacts, gates = await asyncio.gather(
            self.app.store.list_artifacts(run.id, latest_only=True),
            self.app.store.list_gate_evaluations(run.id),
        )
        order = {n: i for i, n in enumerate(self.app.catalogue.names)}
        artifacts = sorted(artifacts, key=lambda a: (order.get(a.phase, len(order)), a.created_at))
        if fmt == artifact_pb2.DOSSIER_FORMAT_JSON:
            content, content_type = dossier_json(run, artifacts), _JSON
        else:
            content = dossier_markdown(run, artifacts, gates, [self._render(a) for a in artifacts])
            content_type = _MARKDOWN
        return artifact_pb2.ExportDossierResponse(
            run_id=run.id,
            format=fmt,
            content_type=content_type,
            content=content,
            artifact_ids=[a.id for a in artifacts],
            sha256=sha256_hex(content),
        )
