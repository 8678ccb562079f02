"""SchemaAgent's lease checks: before each further model call, never after the last one."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from ideamine.agent_kit import SchemaAgent
from ideamine.agents import AgentContext, TaskDecl, TaskInfo
from ideamine.llm.client import MeteredLLM
from ideamine.llm.offline.provider import OfflineProvider
from ideamine.schemas import load_schema, validate_artifact

_TYPES = ("idea-classification", "intake-report")


class PairAgent(SchemaAgent):
    """A third-party shaped agent whose one task writes two artifacts (two model calls)."""

    name = "pair-writer"
    phase = "intake"
    tasks: ClassVar[dict[str, TaskDecl]] = {
        "pair": TaskDecl(produces=_TYPES),
        "one": TaskDecl(produces=_TYPES[:1]),
    }
    schemas: ClassVar[dict[str, Any]] = {t: load_schema(t) for t in _TYPES}


class LeaseGone(Exception):
    """What a lost lease raises out of ``heartbeat`` (the host's LeaseLost)."""


def _context(llm: MeteredLLM, heartbeat: Any, key: str) -> tuple[AgentContext, TaskInfo]:
    info = TaskInfo(
        run_id="r",
        task_id="t",
        phase="intake",
        task_key=key,
        agent=PairAgent.name,
        agent_version="1.0.0",
        attempt=1,
        phase_attempt=1,
        idempotency_key="k",
    )
    return AgentContext(
        info=info, idea={"text": "a todo app for families"}, llm=llm, heartbeat=heartbeat
    ), info


def _llm() -> MeteredLLM:
    return MeteredLLM(
        OfflineProvider(),
        store=None,
        scope_id=None,
        run_id=None,
        phase="intake",
        task_id=None,
        agent=PairAgent.name,
        validate=validate_artifact,
    )


@pytest.mark.parametrize(("key", "beats"), [("one", 0), ("pair", 1)])
async def test_the_lease_is_checked_between_calls_only(key: str, beats: int) -> None:
    seen: list[int] = []
    llm = _llm()

    async def heartbeat() -> None:
        seen.append(llm.usage.calls)

    context, info = _context(llm, heartbeat, key)
    out = await PairAgent().run(context, info)
    assert [a.type for a in out] == list(PairAgent.tasks[key].produces)
    assert seen == [1] * beats  # once, after the first call and before the second; none after the last


async def test_a_lost_lease_stops_the_agent_before_it_pays_again() -> None:
    llm = _llm()

    async def heartbeat() -> None:
        raise LeaseGone

    context, info = _context(llm, heartbeat, "pair")
    with pytest.raises(LeaseGone):
        await PairAgent().run(context, info)
    assert llm.usage.calls == 1
