"""The catalogue: phase and agent definitions, agent-host registrations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from google.protobuf import json_format  # type: ignore[import-untyped]

from ideamine._proto.ideamine.v1 import (
    agent_host_pb2,
    catalog_pb2,
    common_pb2,
)
from ideamine.catalogue import PhaseSpec
from ideamine.convert.wire import (
    phase_or_unspecified,
)
from ideamine.plugins import AgentEntry
from ideamine.store.records import (
    AgentHostRecord,
)

__all__ = [
    "agent_definition_from_dict",
    "agent_definition_to_dict",
    "agent_definition_to_proto",
    "host_from_proto",
    "host_status_from_proto",
    "phase_definition_to_proto",
]


_HOST_STATES = {"UP": "HOST_STATE_SERVING", "DRAINING": "HOST_STATE_DRAINING", "DOWN": "HOST_STATE_STOPPED"}


def phase_definition_to_proto(p: PhaseSpec) -> catalog_pb2.PhaseDefinition:
    """A catalogue phase."""
    metrics = []
    for m in p.gate.metrics:
        low, high = m.threshold if isinstance(m.threshold, tuple) else (m.threshold, 0.0)
        metrics.append(
            catalog_pb2.MetricDefinition(
                name=m.metric,
                op=m.op,
                threshold=low,
                threshold_high=high,
                weight=m.weight,
                required=m.required,
                never_waivable=m.never_waivable,
            )
        )
    return catalog_pb2.PhaseDefinition(
        phase=phase_or_unspecified(p.name),
        name=p.name,
        index=p.index,
        needs=[phase_or_unspecified(n) for n in p.needs],
        parallelism=p.parallelism,
        tasks=[
            catalog_pb2.TaskDefinition(key=t.key, produces=t.produces, after=t.after, per_story=t.per_story)
            for t in p.tasks
        ],
        gate=catalog_pb2.GateDefinition(
            min_score=p.gate.min_score, max_attempts=p.gate.max_attempts, metrics=metrics
        ),
        budget=common_pb2.Budget(
            max_tokens=p.budget.tokens, max_wall_clock_seconds=int(p.budget.wall_clock_minutes * 60)
        ),
        qav=catalog_pb2.QavLimits(max_questions=p.qav.max_questions, max_rounds=p.qav.max_rounds),
        artifact_types=p.artifact_types,
    )


def agent_definition_to_proto(
    entry: AgentEntry, *, host_ids: Sequence[str] = ()
) -> catalog_pb2.AgentDefinition:
    """A registered agent class; several task keys are joined with commas."""
    cls = entry.cls
    produces = list(dict.fromkeys(t for decl in cls.tasks.values() for t in decl.produces))
    doc = (cls.__doc__ or "").strip().splitlines()
    return catalog_pb2.AgentDefinition(
        name=entry.name,
        version=entry.version,
        phase=phase_or_unspecified(entry.phase),
        task_key=",".join(cls.tasks),
        produces=produces,
        consumes=list(getattr(cls, "consumes", ())),
        description=doc[0] if doc else "",
        plugin=entry.plugin,
        host_ids=list(host_ids),
    )


def agent_definition_to_dict(agent: catalog_pb2.AgentDefinition) -> dict[str, Any]:
    """An agent definition as the JSON a host registration stores."""
    return dict(json_format.MessageToDict(agent, preserving_proto_field_name=True))


def agent_definition_from_dict(data: Mapping[str, Any]) -> catalog_pb2.AgentDefinition:
    """Inverse of :func:`agent_definition_to_dict` (unknown keys, e.g. old rows, are ignored)."""
    message = catalog_pb2.AgentDefinition()
    json_format.ParseDict(dict(data), message, ignore_unknown_fields=True)
    return message


def host_status_from_proto(state: int) -> str:
    """The store's host status for a HostState (unspecified/starting/serving count as UP)."""
    name = agent_host_pb2.HostState.Name(state) if state in agent_host_pb2.HostState.values() else ""
    return {v: k for k, v in _HOST_STATES.items()}.get(name, "UP")


def host_from_proto(req: agent_host_pb2.RegisterHostRequest, *, now: datetime) -> AgentHostRecord:
    """A RegisterHost request as the host record to store."""
    return AgentHostRecord(
        id=req.host_id,
        name=req.labels.get("name", req.host_id),
        address=req.address,
        agents=[agent_definition_to_dict(a) for a in req.agents],
        capacity=req.capacity,
        status="UP",
        last_heartbeat_at=now,
        registered_at=now,
    )
