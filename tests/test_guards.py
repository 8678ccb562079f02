"""The built-in guards over hand-made drafts: what they flag and what they let through."""

from __future__ import annotations

from typing import Any

from ideamine.catalogue import load_catalogue
from ideamine.guards import CompletenessGuard, Draft, Finding, IdIntegrityGuard, run_guards

PRD = load_catalogue().phase("prd")


def _draft(produced: dict[str, list[dict[str, Any]]], accepted: dict[str, list[dict[str, Any]]]) -> Draft:
    return Draft(PRD, produced, accepted)


def test_references_resolve_against_ids_defined_anywhere_in_the_run_at_any_depth() -> None:
    accepted = {"requirements": [{"items": [{"id": "FR-001"}, {"id": "FR-002", "meta": {"id": "NFR-01"}}]}]}
    produced = {
        "prd": [
            {
                "sections": [
                    {"requirement_ids": ["FR-001", "FR-002"], "notes": [{"nfr_id": "NFR-01"}]},
                    {"story": {"deep": [[{"requirement_id": "FR-009"}]]}},  # dangling, nested in lists
                ],
                "epic_id": "EP-001",  # no epic is defined anywhere: an id kind the run lacks
                "ticket_id": "JIRA-12",  # not an IdeaMine id at all
            }
        ]
    }
    findings = IdIntegrityGuard().check(_draft(produced, accepted))
    assert findings == [Finding("id-integrity", "prd: references to undefined ids: FR-009", "prd")]


def test_an_id_defined_twice_in_one_new_artifact_is_flagged_but_upstream_repeats_are_not() -> None:
    twice = {"items": [{"id": "ST-001"}, {"nested": {"id": "ST-001"}}]}
    findings = IdIntegrityGuard().check(_draft({"prd": [twice]}, {"user-stories": [twice]}))
    assert findings == [Finding("id-integrity", "prd: id ST-001 is defined twice", "prd")]


def test_completeness_names_each_missing_type_and_run_guards_keeps_a_broken_guard_from_crashing() -> None:
    class Broken:
        name = "broken"

        def check(self, draft: Draft) -> list[Finding]:
            raise KeyError("x")

    findings = run_guards([CompletenessGuard(), Broken()], _draft({}, {}))
    missing = {f.artifact_type for f in findings if f.guard == "completeness"}
    assert missing == set(PRD.artifact_types) and missing
    assert [f.message for f in findings if f.guard == "broken"] == ["guard raised KeyError: 'x'"]
