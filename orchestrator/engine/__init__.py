"""The run engine: drives a run through its phases (Plan → Dispatch → Guard → Heal → Clarify → Handoff)."""
