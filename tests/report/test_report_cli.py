"""``ideamine report`` as a user runs it: an embedded run directory, a PostgreSQL run, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ideamine.cli.main import main
from ideamine.embedded import DB_FILE
from ideamine.ids import new_id
from tests.report.support import Page, example_request, make_run


def test_report_of_a_run_directory_writes_the_default_and_a_named_file(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for name in ("run.json", DB_FILE):
        (run_dir / name).write_bytes((runs["gate_loop"] / name).read_bytes())
    assert main(["report", str(run_dir)]) == 0
    default = run_dir / "report.html"
    assert f": {default}" in capsys.readouterr().out
    named = tmp_path / "nested" / "dir" / "r.html"
    assert main(["report", str(run_dir), "--html", str(named)]) == 0
    assert named.read_text(encoding="utf-8") == default.read_text(encoding="utf-8")
    rows = Page(default.read_text(encoding="utf-8")).find("g", class_="gantt-row")
    assert [r["data-phase"] for r in rows] == ["intake", "ideation", "critique", "prd"]


def _bad_dirs(tmp_path: Path) -> dict[str, Path]:
    empty = tmp_path / "empty"
    empty.mkdir()
    no_db = tmp_path / "no-db"
    no_db.mkdir()
    (no_db / "run.json").write_text(json.dumps({"run_id": new_id()}))
    garbled = tmp_path / "garbled"
    garbled.mkdir()
    (garbled / "run.json").write_text("{not json")
    (garbled / DB_FILE).write_text("")
    return {"empty": empty, "no-db": no_db, "garbled": garbled}


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        ([], "name a run"),
        (["{empty}"], "holds no run"),
        (["{no-db}"], f"no {DB_FILE}"),
        (["{garbled}"], "not a run file"),
        (["{empty}", "--database-url", "postgresql://x@127.0.0.1/db"], "not both"),
        (["{empty}", "--run", "abc"], "--run goes with --database-url"),
        (["--database-url", "postgresql://x@127.0.0.1/db"], "needs --run"),
        (
            ["--database-url", "postgresql://x@127.0.0.1/db", "--run", "nope", "--html", "x.html"],
            "not a run id",
        ),
        (["--database-url", "postgresql://x@127.0.0.1/db", "--run", "{id}"], "needs --html"),
        (["--database-url", "mysql://x/db", "--run", "{id}", "--html", "x.html"], "unsupported database URL"),
        (["{run}", "--html", "{tmp}"], "is a directory"),
        (["{run}", "--html", "{run}/report.html/x"], "cannot write"),
    ],
)
def test_bad_input_exits_2_with_one_clear_line(
    runs: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    needle: str,
) -> None:
    values = {**{k: str(v) for k, v in _bad_dirs(tmp_path).items()}, "id": new_id(), "tmp": str(tmp_path)}
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for name in ("run.json", DB_FILE):
        (run_dir / name).write_bytes((runs["budget"] / name).read_bytes())
    (run_dir / "report.html").write_text("a file where a directory is needed")
    values["run"] = str(run_dir)
    code = main(["report", *(a.format(**values) for a in argv)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert needle in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_an_unknown_run_in_a_directory_is_a_clear_error(
    tmp_path: Path, runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / DB_FILE).write_bytes((runs["budget"] / DB_FILE).read_bytes())
    (run_dir / "run.json").write_text(json.dumps({"run_id": new_id()}))
    assert main(["report", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert "not found" in err.lower() and "Traceback" not in err
    assert not (run_dir / "report.html").exists()


@pytest.mark.postgres
async def test_report_of_a_postgresql_run(
    migrated_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    import ideamine.embedded
    from ideamine.store.factory import open_store

    async def open_postgres(_path: object) -> object:
        return await open_store(migrated_db)

    # the real engine and worker, writing to PostgreSQL instead of the run directory's SQLite
    monkeypatch.setattr(ideamine.embedded, "open_sqlite", open_postgres)
    run_id = await make_run(tmp_path / "run", example_request("todo-app.yaml"))
    html = tmp_path / "pg.html"
    argv = ["report", "--database-url", migrated_db, "--run", run_id, "--html", str(html)]
    assert await asyncio.to_thread(main, argv) == 0, capsys.readouterr().err
    page = Page(html.read_text(encoding="utf-8"))
    assert [r["data-phase"] for r in page.find("g", class_="gantt-row")] == [
        "intake",
        "ideation",
        "critique",
        "prd",
    ]
    assert run_id in page.text and page.find("details", class_="artifact")
    missing = ["report", "--database-url", migrated_db, "--run", new_id(), "--html", str(tmp_path / "x.html")]
    assert await asyncio.to_thread(main, missing) == 2
    assert "not found" in capsys.readouterr().err.lower()
