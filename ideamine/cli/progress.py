"""Live progress of a run in the terminal, read from the ledger as it grows."""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from ideamine.store.base import RunStore
from ideamine.store.records import LedgerRecord

__all__ = ["ProgressPrinter"]

_SHOWN = {
    "run.started",
    "run.resumed",
    "run.completed",
    "run.failed",
    "run.needs_waiver",
    "run.budget_exhausted",
    "phase.started",
    "phase.completed",
    "phase.failed",
    "gate.passed",
    "gate.failed",
    "task.succeeded",
    "task.failed",
    "task.retried",
    "task.stalled",
    "task.dead",
    "question.asked",
    "question.answered",
    "assumption.recorded",
    "budget.threshold",
}


class ProgressPrinter:
    """Prints one line per notable ledger event until stopped."""

    def __init__(
        self, store: RunStore, run_id: str, *, out: TextIO = sys.stderr, interval: float = 0.2
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.out = out
        self.interval = interval
        self._seq = 0
        self._t0: float | None = None
        self._tasks: dict[str, str] = {}

    def _line(self, e: LedgerRecord) -> str | None:
        if e.type not in _SHOWN:
            return None
        ts = e.created_at.timestamp()
        self._t0 = self._t0 if self._t0 is not None else ts
        p = e.payload
        what = e.type
        if e.type.startswith("gate."):
            what = f"{e.type} score {p.get('score', 0):.1f} ({p.get('decision')}) attempt {p.get('attempt')}"
            if p.get("findings") and e.type == "gate.failed":
                what += " — " + "; ".join(map(str, p["findings"]))[:200]
        elif e.type == "task.succeeded":
            what = f"task done: {', '.join(p.get('artifacts', []))} (${p.get('cost_usd', 0):.4f})"
        elif e.type == "budget.threshold":
            what = f"budget {p.get('dimension')} crossed {p.get('threshold')} %"
        elif e.type.startswith("question") or e.type.startswith("assumption"):
            what = f"{e.type}: {str(p.get('text') or p.get('question') or '')[:120]}"
        return f"[{ts - self._t0:7.2f}s] {e.phase or '':<12} {what}"

    async def flush(self) -> None:
        """Print every event not printed yet."""
        for e in await self.store.list_events(self.run_id, after_seq=self._seq, limit=10_000):
            self._seq = e.seq
            line = self._line(e)
            if line:
                print(line, file=self.out, flush=True)

    async def run(self) -> None:
        """Print continuously until cancelled."""
        while True:
            await self.flush()
            await asyncio.sleep(self.interval)
