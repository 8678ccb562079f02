"""Bad input to ``ideamine run``: one clear message, exit code 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from ideamine.cli.main import main


@pytest.mark.parametrize(
    ("content", "extra", "needle"),
    [
        ("idea: ''\n", [], "idea"),
        ("idea: short\n", [], "10–50,000"),
        ("idea: " + "x" * 50_001 + "\n", [], "10–50,000"),
        ("idea: a shared shopping list for flatmates\nphases: [intake, nonsense]\n", [], "unknown phase"),
        ("idea: a shared shopping list for flatmates\nbudget: {max_usd: -5}\n", [], "must not be negative"),
        ("idea: [unclosed\n", [], "not valid YAML"),
        ("idea: a shared shopping list for flatmates\ncolour: blue\n", [], "unknown key"),
        ("idea: a shared shopping list for flatmates\n", ["--phases", "intake,bogus"], "unknown phase"),
        ("idea: a shared shopping list for flatmates\n", ["--budget-usd", "-1"], "must not be negative"),
        ("idea: a shared shopping list for flatmates\n", ["--model", "gpt"], "--model"),
    ],
)
def test_bad_run_input_exits_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, extra: list[str], needle: str
) -> None:
    run_file = tmp_path / "run.yaml"
    run_file.write_text(content, encoding="utf-8")
    out = tmp_path / "out"
    code = main(["run", str(run_file), "--out", str(out), "--quiet", *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err
    assert "Traceback" not in err
    assert not out.exists()


def test_resume_of_a_directory_without_a_run_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["resume", str(tmp_path)]) == 2
    assert "holds no run" in capsys.readouterr().err


def test_a_long_idea_text_is_an_idea_not_a_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    idea = "A booking app for independent yoga studios with waitlists and reminders. " * 5
    out = tmp_path / "out"
    assert main(["run", idea, "--phases", "intake", "--out", str(out), "--quiet"]) in (0, 3)
    assert "Traceback" not in capsys.readouterr().err
    assert (out / "report.md").is_file()


def test_an_idea_with_a_nul_byte_is_rejected_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", "an idea with a \x00 nul byte in it", "--out", str(tmp_path / "o"), "--quiet"])
    assert code in (0, 2, 3)
    assert "Traceback" not in capsys.readouterr().err
