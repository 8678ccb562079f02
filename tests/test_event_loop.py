"""ideamine.event_loop: which loop a process runs on, and a clear refusal of a bad choice."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from ideamine import event_loop
from ideamine.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[1]


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__.split(".")[0]


def test_uvloop_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IDEAMINE_EVENT_LOOP", raising=False)
    assert event_loop.chosen_loop() == "uvloop"
    assert event_loop.run(_loop_module()) == "uvloop"


@pytest.mark.parametrize("value", ["asyncio", " AsyncIO "])
def test_asyncio_on_request(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("IDEAMINE_EVENT_LOOP", value)
    assert event_loop.run(_loop_module()) == "asyncio"


def test_an_unknown_loop_is_refused_and_the_coroutine_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDEAMINE_EVENT_LOOP", "trio")
    main = _loop_module()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a "never awaited" warning would fail here
        with pytest.raises(InvalidInput, match="IDEAMINE_EVENT_LOOP must be one of uvloop, asyncio") as info:
            event_loop.run(main)
    assert info.value.violations[0].field == "IDEAMINE_EVENT_LOOP"
    assert main.cr_frame is None  # closed, not left pending


def test_uvloop_demanded_where_it_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDEAMINE_EVENT_LOOP", "uvloop")
    monkeypatch.setattr(event_loop, "_uvloop_installed", lambda: False)
    with pytest.raises(InvalidInput, match="uvloop is not installed"):
        event_loop.chosen_loop()
    monkeypatch.delenv("IDEAMINE_EVENT_LOOP")
    assert event_loop.chosen_loop() == "asyncio"


SERVE = ["serve", "orchestrator", "--database-url", "postgresql://u@127.0.0.1:1/d"]
SERVE += ["--redis-url", "redis://127.0.0.1:1/0"]


@pytest.mark.parametrize("command", [["run", "a todo app", "--out", "{out}"], [*SERVE, "--insecure-local"]])
def test_the_cli_refuses_a_bad_loop_with_one_line_and_exit_2(tmp_path: Path, command: list[str]) -> None:
    out = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDEAMINE_")}
    proc = subprocess.run(
        [sys.executable, "-m", "ideamine.cli.main", *(a.replace("{out}", str(out)) for a in command)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**env, "IDEAMINE_EVENT_LOOP": "bogus"},
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "ideamine: error: IDEAMINE_EVENT_LOOP must be one of uvloop, asyncio, not 'bogus'"
    ]
    assert not out.exists()  # nothing written before the refusal
