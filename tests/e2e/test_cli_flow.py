"""The embedded CLI: exit codes for a run that waits for a human, answering, resuming."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from ideamine.cli.main import main
from ideamine.embedded import DB_FILE
from ideamine.enums import QuestionStatus
from ideamine.store.sqlite import open_sqlite

RUN_FILE = """\
title: Flatmate chores
idea: |
  A shared chores rota for flatmates: weekly rotation, reminders on the phone,
  swaps between flatmates, and a fair-share score so nobody does more than others.
constraints: {budget_usd: 800, timeline: 3 weeks, target_users: [flatmates]}
phases: [intake, ideation]
policy: ask_on_blocking
"""


async def _waiting_codes(db: Path) -> list[str]:
    store = await open_sqlite(db)
    try:
        run_id = (await store.list_runs()).items[0].id
        return [
            q.code for q in await store.list_questions(run_id) if q.status is QuestionStatus.AWAITING_HUMAN
        ]
    finally:
        await store.close()


def test_a_waiting_run_exits_5_and_resume_with_answers_finishes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_file = tmp_path / "chores.yaml"
    run_file.write_text(RUN_FILE, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["run", str(run_file), "--out", str(out), "--quiet"]) == 5
    for _ in range(6):
        codes = asyncio.run(_waiting_codes(out / DB_FILE))
        assert codes
        args = [a for c in codes for a in ("--answer", f"{c}=Flatmates sharing one kitchen come first")]
        code = main(["resume", str(out), "--quiet", *args])
        if code != 5:
            break
    assert code == 0
    assert json.loads((out / "run.json").read_text())["run_id"] in capsys.readouterr().out
    assert (out / "report.md").read_text().count("ANSWERED_BY_HUMAN") >= 1


def test_answering_an_unknown_question_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_file = tmp_path / "chores.yaml"
    run_file.write_text(RUN_FILE, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["run", str(run_file), "--out", str(out), "--quiet"]) == 5
    assert main(["resume", str(out), "--quiet", "--answer", "Q-999=whatever"]) == 2
    assert "no question 'Q-999'" in capsys.readouterr().err
    assert main(["resume", str(out), "--quiet", "--answer", "no-equals-sign"]) == 2
