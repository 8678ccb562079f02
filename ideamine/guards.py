"""Guards: deterministic checks over a phase draft, run before its gate.

A guard looks at the artifacts a phase attempt produced (and everything accepted
upstream) and returns :class:`Finding` objects. Blocking findings fail the gate and are
named in its findings, so the next attempt's agents see exactly what to fix. Guards are
plugins (``ideamine_register_guards``); the built-in ones are registered from
``ideamine.defaults``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ideamine.catalogue import PhaseSpec

__all__ = ["Finding", "Guard", "Draft", "CompletenessGuard", "IdIntegrityGuard", "run_guards"]

#: id prefixes that tie the dossier together (PHASES.md)
ID_PATTERN = re.compile(r"^(FR|NFR|EP|ST|AC|RSK|ADR|CMP|ENT|API|THR|CTL|TC|Q|ASM)-\d{2,3}$")


@dataclass(frozen=True)
class Finding:
    """One problem a guard found."""

    guard: str
    message: str
    artifact_type: str | None = None
    blocking: bool = True


@dataclass(frozen=True)
class Draft:
    """What guards inspect: this phase's new artifacts and the run's accepted ones."""

    phase: PhaseSpec
    produced: Mapping[str, Sequence[Mapping[str, Any]]]  #: type -> contents from this attempt
    accepted: Mapping[str, Sequence[Mapping[str, Any]]]  #: type -> contents accepted earlier

    def all_contents(self) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """Every (type, content) pair, earlier phases first."""
        for source in (self.accepted, self.produced):
            for t, items in source.items():
                for c in items:
                    yield t, c


class Guard(Protocol):
    """A deterministic check over a draft."""

    name: str

    def check(self, draft: Draft) -> list[Finding]:
        """Return the findings for ``draft`` (empty when it is fine)."""
        ...


class CompletenessGuard:
    """Every artifact type the phase's catalogue tasks produce must be present."""

    name = "completeness"

    def check(self, draft: Draft) -> list[Finding]:
        """Name each missing artifact type."""
        return [
            Finding(self.name, f"missing artifact {t!r}", t)
            for t in draft.phase.artifact_types
            if not draft.produced.get(t)
        ]


def _entries(value: Any) -> Iterator[tuple[str, Any]]:
    """Yield (key, value) for every object member below ``value``, at any depth.

    Artifact contents are JSON, so only ``dict`` and ``list`` nest (an ``isinstance``
    against the ``Mapping`` ABC costs several times more per node). Iterative and
    path-free: guards walk every artifact of the run at each phase boundary, on the
    critical path between two phases.
    """
    stack = [dict(value) if isinstance(value, Mapping) else value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for k, v in node.items():
                yield str(k), v
                if isinstance(v, dict | list):
                    stack.append(v)
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, dict | list))


def _is_ref_key(key: str) -> bool:
    return key.endswith("_id") or key.endswith("_ids")


class IdIntegrityGuard:
    """Ids are unique where defined, and every reference points at a defined id.

    Definitions are ``id`` fields matching the dossier's id formats; references are
    fields named ``*_id`` / ``*_ids``. Only the phase's new artifacts are checked for
    dangling references, against definitions anywhere in the run, and only for id kinds
    the run defines at all (an upstream phase that was not requested is not an error).
    """

    name = "id-integrity"

    def check(self, draft: Draft) -> list[Finding]:
        """Report duplicate definitions and dangling references."""
        findings: list[Finding] = []
        defined: set[str] = set()
        for t, content in draft.all_contents():
            seen: set[str] = set()
            for key, v in _entries(content):
                if key == "id" and isinstance(v, str) and ID_PATTERN.match(v):
                    if v in seen and t in draft.produced:
                        findings.append(Finding(self.name, f"{t}: id {v} is defined twice", t))
                    seen.add(v)
            defined |= seen
        kinds = {d.split("-")[0] for d in defined}
        for t, items in draft.produced.items():
            dangling: set[str] = set()
            for content in items:
                for key, v in _entries(content):
                    if not _is_ref_key(key):
                        continue
                    refs = v if isinstance(v, list) else [v]
                    for r in refs:
                        if (
                            isinstance(r, str)
                            and ID_PATTERN.match(r)
                            and r.split("-")[0] in kinds
                            and r not in defined
                        ):
                            dangling.add(r)
            if dangling:
                findings.append(
                    Finding(self.name, f"{t}: references to undefined ids: {', '.join(sorted(dangling))}", t)
                )
        return findings


def run_guards(guards: Sequence[Guard], draft: Draft) -> list[Finding]:
    """Run every guard; a guard that raises becomes a blocking finding naming it."""
    out: list[Finding] = []
    for g in guards:
        try:
            out.extend(g.check(draft))
        except Exception as exc:  # a broken plugin guard must not crash the phase
            out.append(Finding(getattr(g, "name", repr(g)), f"guard raised {type(exc).__name__}: {exc}"))
    return out
