"""Run files: the YAML a user writes to ask for a run (``examples/orchestrations/*.yaml``).

::

    title: Family todo app
    idea: |
      A shared todo list for families ...
    constraints: {budget_usd: 500, timeline: 2 weeks, compliance: [], target_users: [...], tech_preferences: [...]}
    phases: [intake, ideation, prd]          # dependencies are added
    budget: {max_usd: 5, max_tokens: 2000000, max_wall_clock_minutes: 60}
    policy: autonomous                       # autonomous | ask_on_blocking | approve_each_phase

Parsing is strict: unknown keys, wrong types, an idea outside 10–50,000 characters, an
unknown phase or a negative budget are :class:`~ideamine.errors.InvalidInput` with every
offending field named — before anything is written anywhere.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ideamine.canonical import json_problems
from ideamine.catalogue import Catalogue, load_catalogue
from ideamine.enums import Policy
from ideamine.errors import FieldViolation, InvalidInput
from ideamine.store.records import BudgetLimits

__all__ = ["RunRequest", "parse_run_request", "load_run_file", "IDEA_MIN_CHARS", "IDEA_MAX_CHARS"]

IDEA_MIN_CHARS = 10
IDEA_MAX_CHARS = 50_000
_TOP_KEYS = {"title", "idea", "constraints", "phases", "budget", "policy"}
_CONSTRAINT_KEYS = {"budget_usd", "timeline", "compliance", "target_users", "tech_preferences"}
_BUDGET_KEYS = {"max_usd", "max_tokens", "max_wall_clock_minutes"}


@dataclass(frozen=True)
class RunRequest:
    """A validated request for a run."""

    title: str
    idea: str
    constraints: Mapping[str, Any]
    phases: tuple[str, ...]  #: requested phases plus dependencies, pipeline order
    budget: BudgetLimits
    policy: Policy = Policy.AUTONOMOUS
    requested_phases: tuple[str, ...] = field(default=())

    def idea_document(self) -> dict[str, Any]:
        """The run's ``idea`` JSON as stored and handed to agents."""
        return {"text": self.idea, "title": self.title, "constraints": dict(self.constraints)}


def _number(v: Any, where: str, errs: list[FieldViolation], *, integer: bool = False) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or (integer and not isinstance(v, int)):
        errs.append(FieldViolation(where, f"must be a {'whole ' if integer else ''}number"))
        return None
    if not math.isfinite(v):  # YAML's .nan / .inf: not storable as JSON, meaningless as a limit
        errs.append(FieldViolation(where, "must be a finite number"))
        return None
    if v < 0:
        errs.append(FieldViolation(where, "must not be negative"))
        return None
    return v


def _string_list(v: Any, where: str, errs: list[FieldViolation]) -> list[str]:
    if v is None:
        return []
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        errs.append(FieldViolation(where, "must be a list of strings"))
        return []
    return list(v)


def _constraints(raw: Any, errs: list[FieldViolation]) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        errs.append(FieldViolation("constraints", "must be a mapping"))
        return {}
    for k in set(raw) - _CONSTRAINT_KEYS:
        errs.append(
            FieldViolation(f"constraints.{k}", f"unknown key; allowed: {', '.join(sorted(_CONSTRAINT_KEYS))}")
        )
    out: dict[str, Any] = {}
    if "budget_usd" in raw:
        out["budget_usd"] = _number(raw["budget_usd"], "constraints.budget_usd", errs)
    if "timeline" in raw:
        if not isinstance(raw["timeline"], str):
            errs.append(FieldViolation("constraints.timeline", "must be text, e.g. '3 months'"))
        else:
            out["timeline"] = raw["timeline"]
    for key in ("compliance", "target_users", "tech_preferences"):
        out[key] = _string_list(raw.get(key), f"constraints.{key}", errs)
    return out


def _budget(raw: Any, errs: list[FieldViolation]) -> BudgetLimits:
    if raw is None:
        return BudgetLimits()
    if not isinstance(raw, Mapping):
        errs.append(FieldViolation("budget", "must be a mapping"))
        return BudgetLimits()
    for k in set(raw) - _BUDGET_KEYS:
        errs.append(FieldViolation(f"budget.{k}", f"unknown key; allowed: {', '.join(sorted(_BUDGET_KEYS))}"))
    usd = _number(raw.get("max_usd"), "budget.max_usd", errs)
    tokens = _number(raw.get("max_tokens"), "budget.max_tokens", errs, integer=True)
    minutes = _number(raw.get("max_wall_clock_minutes"), "budget.max_wall_clock_minutes", errs)
    return BudgetLimits(
        tokens=int(tokens) if tokens is not None else None,
        usd=float(usd) if usd is not None else None,
        wall_clock_seconds=float(minutes) * 60 if minutes is not None else None,
    )


def parse_run_request(data: Any, *, catalogue: Catalogue | None = None) -> RunRequest:
    """Validate a parsed run document; raise InvalidInput naming every bad field."""
    cat = catalogue or load_catalogue()
    if not isinstance(data, Mapping):
        raise InvalidInput("a run file must be a YAML mapping with at least an 'idea'", field="")
    unstorable = json_problems(dict(data))  # NUL, non-JSON values, absurd nesting
    if unstorable:
        raise InvalidInput(
            "the run file holds values no run can store: " + "; ".join(unstorable),
            violations=[FieldViolation(p.split(":", 1)[0], p.split(": ", 1)[-1]) for p in unstorable],
        )
    errs: list[FieldViolation] = [
        FieldViolation(str(k), f"unknown key; allowed: {', '.join(sorted(_TOP_KEYS))}")
        for k in set(data) - _TOP_KEYS
    ]
    idea = data.get("idea")
    if not isinstance(idea, str) or not idea.strip():
        errs.append(FieldViolation("idea", "is required: describe the product idea in text"))
        idea = ""
    elif not IDEA_MIN_CHARS <= len(idea.strip()) <= IDEA_MAX_CHARS:
        errs.append(
            FieldViolation(
                "idea", f"must be {IDEA_MIN_CHARS}–{IDEA_MAX_CHARS:,} characters, got {len(idea.strip()):,}"
            )
        )
    title = data.get("title")
    if title is not None and (not isinstance(title, str) or len(title) > 200):
        errs.append(FieldViolation("title", "must be text of at most 200 characters"))
        title = None
    requested = _string_list(data.get("phases"), "phases", errs) or list(cat.names)
    unknown = [p for p in requested if p not in cat.names]
    if unknown:
        errs.append(
            FieldViolation("phases", f"unknown phase(s) {', '.join(unknown)}; known: {', '.join(cat.names)}")
        )
    policy_raw = data.get("policy", "autonomous")
    try:
        policy = Policy(str(policy_raw).upper())
    except ValueError:
        errs.append(FieldViolation("policy", "must be autonomous, ask_on_blocking or approve_each_phase"))
        policy = Policy.AUTONOMOUS
    constraints = _constraints(data.get("constraints"), errs)
    budget = _budget(data.get("budget"), errs)
    if errs:
        raise InvalidInput("; ".join(f"{v.field}: {v.description}" for v in errs), violations=errs)
    text = str(idea).strip()
    return RunRequest(
        title=str(title or text.splitlines()[0][:80]),
        idea=text,
        constraints=constraints,
        phases=cat.closure(requested),
        budget=budget,
        policy=policy,
        requested_phases=tuple(requested),
    )


def _is_file(path: Path) -> bool:
    """``path.is_file()`` that treats "this cannot be a path" (too long, NUL byte) as no."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def load_run_file(source: str, *, catalogue: Catalogue | None = None) -> RunRequest:
    """Parse a run file path, or — when ``source`` is not a file — the idea text itself."""
    path = Path(source)
    if path.suffix.lower() in (".yaml", ".yml") or _is_file(path):
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"cannot read run file {source}: {exc.strerror}", field="run_file") from None
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"{source} is not UTF-8 text (byte {exc.start})", field="run_file") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InvalidInput(f"{source} is not valid YAML: {exc}", field="run_file") from None
        except RecursionError:  # PyYAML recurses per nesting level
            raise InvalidInput(f"{source} is nested too deeply to be a run file", field="run_file") from None
        return parse_run_request(data, catalogue=catalogue)
    return parse_run_request({"idea": source}, catalogue=catalogue)
