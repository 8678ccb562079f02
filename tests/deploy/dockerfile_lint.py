"""A structural Dockerfile check for a machine without a Docker engine.

The images cannot be built here, so their rules are checked on the text: every base image
pinned to a version (never ``latest``), several stages with the final one running as a
numeric non-root user, a ``HEALTHCHECK`` (or an explicit ``HEALTHCHECK NONE`` for one-shot
images that an orchestrator runs to completion), no ``ADD`` of remote URLs, and no
``sudo``. hadolint, when installed, runs on top of this (tests/deploy/test_dockerfiles.py).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field

__all__ = ["Instruction", "Stage", "parse", "problems"]

_FROM = re.compile(r"^(?:--platform=\S+\s+)?(?P<image>\S+)(?:\s+AS\s+(?P<alias>\S+))?$", re.IGNORECASE)
_PINNED_TAG = re.compile(r"^\d+(\.\d+)+([-.][A-Za-z0-9.]+)*$")


@dataclass(frozen=True)
class Instruction:
    """One instruction with its continuation lines joined."""

    line: int
    keyword: str
    value: str

    def exec_form(self) -> list[str] | None:
        """The JSON-array (exec) form's items, or None for the shell form."""
        try:
            items = json.loads(self.value)
        except ValueError:
            return None
        return [str(i) for i in items] if isinstance(items, list) else None


@dataclass
class Stage:
    """One ``FROM`` and the instructions after it."""

    image: str
    alias: str | None
    line: int
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None


def instructions(text: str) -> list[Instruction]:
    """The instructions of a Dockerfile (comments dropped, ``\\`` continuations joined)."""
    out: list[Instruction] = []
    buffer: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not buffer and (not line or line.startswith("#")):
            continue
        if buffer and line.startswith("#"):
            continue
        if not buffer:
            start = number
        buffer.append(line[:-1].strip() if line.endswith("\\") else line)
        if not line.endswith("\\"):
            joined = " ".join(p for p in buffer if p)
            keyword, _, value = joined.partition(" ")
            out.append(Instruction(start, keyword.upper(), value.strip()))
            buffer = []
    if buffer:
        raise ValueError(f"line {start}: the file ends inside a continued instruction")
    return out


def parse(text: str) -> list[Stage]:
    """The stages of a Dockerfile.

    Raises:
        ValueError: an instruction before the first ``FROM`` (other than ``ARG``), or a
            malformed ``FROM``.
    """
    stages: list[Stage] = []
    for ins in instructions(text):
        if ins.keyword == "FROM":
            match = _FROM.match(ins.value)
            if not match:
                raise ValueError(f"line {ins.line}: malformed FROM {ins.value!r}")
            stages.append(Stage(match.group("image"), match.group("alias"), ins.line))
        elif not stages:
            if ins.keyword != "ARG":
                raise ValueError(f"line {ins.line}: {ins.keyword} before the first FROM")
        else:
            stages[-1].instructions.append(ins)
    return stages


def _base_problems(stages: list[Stage]) -> list[str]:
    found = []
    aliases: set[str] = set()
    for stage in stages:
        built_on_stage = stage.image.lower() in aliases
        if not built_on_stage and "@sha256:" not in stage.image:
            last = stage.image.split("/")[-1]
            tag = last.rpartition(":")[2] if ":" in last else ""
            if not tag:
                found.append(f"line {stage.line}: {stage.image} has no tag (that is :latest)")
            elif tag == "latest" or not _PINNED_TAG.match(tag):
                found.append(f"line {stage.line}: {stage.image} is not pinned to a version")
            if "$" in stage.image:
                found.append(f"line {stage.line}: {stage.image} depends on a build argument")
        if stage.alias:
            aliases.add(stage.alias.lower())
    return found


def _user_problems(final: Stage) -> list[str]:
    user = final.last("USER")
    if user is None:
        return ["the final stage runs as root (no USER)"]
    name = user.value.split(":")[0]
    found = []
    if name in ("root", "0"):
        found.append(f"line {user.line}: USER {user.value} is root")
    elif not name.isdigit():
        found.append(
            f"line {user.line}: USER {user.value} is not numeric (runAsNonRoot cannot verify a name)"
        )
    later = [i for i in final.instructions if i.line > user.line and i.keyword == "RUN"]
    if later:
        found.append(f"line {later[0].line}: RUN after USER (set the user last)")
    return found


def problems(text: str, *, one_shot: bool = False) -> list[str]:
    """Everything wrong with a Dockerfile; empty when it passes.

    Args:
        text: the Dockerfile.
        one_shot: the image runs to completion (a Job), so ``HEALTHCHECK NONE`` is right.
    """
    try:
        stages = parse(text)
    except ValueError as exc:
        return [str(exc)]
    if not stages:
        return ["no FROM"]
    found = _base_problems(stages)
    if len(stages) < 2:
        found.append("single stage: build in one stage and copy the result into a clean one")
    final = stages[-1]
    found += _user_problems(final)
    health = final.last("HEALTHCHECK")
    if health is None:
        found.append("no HEALTHCHECK (use HEALTHCHECK NONE for a one-shot image)")
    elif health.value.upper().startswith("NONE") and not one_shot:
        found.append(f"line {health.line}: HEALTHCHECK NONE on a long-running service")
    elif not health.value.upper().startswith("NONE") and one_shot:
        found.append(f"line {health.line}: a one-shot image should say HEALTHCHECK NONE")
    for stage in stages:
        for ins in stage.instructions:
            if ins.keyword == "ADD" and re.search(r"https?://", ins.value):
                found.append(f"line {ins.line}: ADD of a remote URL (unpinned, unverified)")
            if ins.keyword == "RUN" and "sudo" in shlex.split(ins.value.replace("&&", " ")):
                found.append(f"line {ins.line}: sudo in RUN")
    if final.last("ENTRYPOINT") is None and final.last("CMD") is None:
        found.append("the final stage has neither ENTRYPOINT nor CMD")
    return found
