"""The artifacts one phase run reads, with what cannot change read once.

A phase starts only after every phase it needs has ended, and artifacts are immutable,
so the upstream part of the run's artifacts is fixed for the whole phase run. Dispatch
(input hashes of each new task) and Clarify (the grounding corpus of each answer round)
used to re-read and decode every artifact of the run for each batch of tasks and each
round; late in a run that is most of the engine's work between two dependent steps.
Here the upstream records are read once; only the phase's own artifacts — and those of a
phase running alongside it (``security ∥ story-loop``) — are read again.
"""

from __future__ import annotations

from collections.abc import Sequence

from ideamine.catalogue import PhaseSpec
from ideamine.store.base import RunStore
from ideamine.store.records import ArtifactRecord, RunRecord
from orchestrator.engine.deps import EngineDeps

__all__ = ["HandoffListing", "PhaseArtifacts"]


class HandoffListing:
    """The run's artifacts as the phase that last handed off read them (one per drive).

    When that phase passes its gate, the listing holds the final artifacts of it and of
    every phase it needs; a phase that needs nothing else starts from this listing
    instead of reading and decoding the whole run again.
    """

    def __init__(self) -> None:
        #: phases whose artifacts were final when :attr:`records` was read
        self.final: frozenset[str] = frozenset()
        self.records: Sequence[ArtifactRecord] = ()


class PhaseArtifacts:
    """Reads of a run's artifacts on behalf of one phase run (and the phase's budget scope)."""

    def __init__(
        self, deps: EngineDeps, run: RunRecord, spec: PhaseSpec, listing: HandoffListing | None = None
    ) -> None:
        closure = deps.catalogue.closure
        self.listing = listing
        self.store: RunStore = deps.store
        self.run_id = run.id
        self.phase = spec.name
        #: phases that ended before this one started: their artifacts never change
        self.upstream = frozenset(closure([spec.name])) - {spec.name}
        #: phases that may add artifacts while this one runs (neither before nor after it)
        self.concurrent = tuple(
            p
            for p in run.phases
            if p != spec.name and p not in self.upstream and spec.name not in closure([p])
        )
        self._upstream: list[ArtifactRecord] | None = None
        #: the phase's budget scope, once the phase run's first dispatcher ensured it: a scope
        #: never changes, so the later stages (clarify rounds, gate-loop attempts) skip two reads
        self.budget_scope_id: str | None = None

    async def upstream_records(self) -> list[ArtifactRecord]:
        """The latest artifacts of the phases this one needs (read on first use)."""
        if self._upstream is None:
            listing = self.listing
            records = (
                listing.records
                if listing is not None and self.upstream <= listing.final
                else await self.store.list_artifacts(self.run_id)
            )
            self._upstream = [r for r in records if r.phase in self.upstream]
        return self._upstream

    def handed_off(self, records: Sequence[ArtifactRecord]) -> None:
        """Note the run's artifacts as this phase hands off (final for it if its gate passes)."""
        if self.listing is not None:
            self.listing.final = self.upstream | {self.phase}
            self.listing.records = records

    async def records(self, *, concurrent: bool = False) -> list[ArtifactRecord]:
        """Upstream artifacts, then this phase's own (and, if asked, concurrent phases')."""
        out = list(await self.upstream_records())
        for phase in (self.phase, *(self.concurrent if concurrent else ())):
            out += await self.store.list_artifacts(self.run_id, phase=phase)
        return out
