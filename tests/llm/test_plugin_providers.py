"""``--model NAME[:ARG]`` resolves plugins' providers (``ideamine_register_llm_providers``).

Built-in names are resolved first and cannot be taken by a plugin; every other name is
looked up on the plugin manager. The tally plugin (``tests/llm/tally_plugin.py``) is
registered in process as ``extra`` and, for the CLI, found as an entry point of a
stand-in distribution on ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from ideamine import hookimpl
from ideamine.embedded import EmbeddedRuntime
from ideamine.enums import RunStatus
from ideamine.errors import InvalidInput, PluginError
from ideamine.llm.providers import check_spec, make_provider, plugin_providers
from ideamine.plugins import get_plugin_manager
from ideamine.runfile import load_run_file, parse_run_request
from tests.llm import tally_plugin
from tests.llm.tally_plugin import TallyProvider

ROOT = Path(__file__).resolve().parents[2]
#: the todo example's idea: the offline model's intake passes its gate for it
IDEA = load_run_file(str(ROOT / "examples" / "orchestrations" / "todo-app.yaml")).idea


def _plugin(name: str, providers: dict[str, Any] | Exception) -> types.SimpleNamespace:
    """A plugin object whose hook answers ``providers`` (or raises it)."""

    @hookimpl
    def ideamine_register_llm_providers() -> dict[str, Any]:
        if isinstance(providers, Exception):
            raise providers
        return providers

    return types.SimpleNamespace(
        __name__=name, ideamine_register_llm_providers=ideamine_register_llm_providers
    )


def _pm(*plugins: Any) -> Any:
    return get_plugin_manager(load_entrypoints=False, extra=plugins)


async def test_a_plugin_provider_is_built_with_its_argument(tmp_path: Path) -> None:
    pm = _pm(tally_plugin)
    provider = make_provider(f"tally:{tmp_path / 'calls.txt'}", plugins=pm)
    bare = make_provider("tally", plugins=pm)
    try:
        assert isinstance(provider, TallyProvider) and provider.path == tmp_path / "calls.txt"
        assert isinstance(bare, TallyProvider) and bare.path is None
    finally:
        await provider.aclose()
        await bare.aclose()


def test_an_unknown_name_lists_built_ins_and_plugin_providers() -> None:
    pm = _pm(tally_plugin)
    with pytest.raises(InvalidInput) as caught:
        make_provider("gpt-9", plugins=pm)
    assert str(caught.value.message) == (
        "unknown LLM provider 'gpt-9'; available: offline, anthropic, replay:PATH, record:PATH, tally[:ARG]"
    )
    assert [v.field for v in caught.value.violations] == ["llm.provider"]
    with pytest.raises(InvalidInput, match="tally"):
        check_spec("gpt-9", plugins=pm)
    check_spec("tally:x", plugins=pm)
    check_spec("replay:x", plugins=_pm())  # built-ins need no plugin


def test_a_bad_argument_refused_by_the_plugin_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="PATH must not be empty"):
        make_provider("tally:", plugins=_pm(tally_plugin))


def _provider_stub(options: dict[str, Any]) -> TallyProvider:
    return TallyProvider(None)


@pytest.mark.parametrize(
    ("plugins", "match"),
    [
        ([_plugin("thief", {"anthropic": _provider_stub})], "'anthropic' is built in and cannot be replaced"),
        (
            [_plugin("one", {"dup": _provider_stub}), _plugin("two", {"dup": _provider_stub})],
            "'dup' is also registered by",
        ),
        ([_plugin("shouty", {"Bad Name": _provider_stub})], "is not"),
        ([_plugin("lazy", {"x": "not callable"})], "not callable"),
        ([_plugin("listy", ["x"])], "must return a dict"),  # type: ignore[list-item]
        ([_plugin("boom", RuntimeError("no config"))], "raised RuntimeError: no config"),
    ],
)
def test_wrong_registrations_are_plugin_errors_naming_the_plugin(plugins: list[Any], match: str) -> None:
    with pytest.raises(PluginError, match=match) as caught:
        plugin_providers(_pm(*plugins))
    assert caught.value.plugin == plugins[-1].__name__


def test_a_factory_that_fails_or_returns_no_provider_is_a_plugin_error() -> None:
    def broken(options: dict[str, Any]) -> Any:
        raise KeyError("endpoint")

    pm = _pm(_plugin("p", {"broken": broken, "empty": lambda options: object()}))
    with pytest.raises(PluginError, match="'broken' failed to start: KeyError"):
        make_provider("broken", plugins=pm)
    with pytest.raises(PluginError, match="not an LLMProvider"):
        make_provider("empty", plugins=pm)


async def test_record_can_wrap_a_plugin_provider(tmp_path: Path) -> None:
    recorder = make_provider(
        f"record:{tmp_path / 'c.jsonl'}", record_inner="tally", plugins=_pm(tally_plugin)
    )
    try:
        assert isinstance(recorder.inner, TallyProvider)  # type: ignore[attr-defined]
    finally:
        await recorder.aclose()


async def test_an_embedded_run_uses_the_plugin_provider(tmp_path: Path) -> None:
    calls = tmp_path / "calls.txt"
    pm = _pm(tally_plugin)
    provider = make_provider(f"tally:{calls}", plugins=pm)
    request = parse_run_request({"idea": IDEA, "phases": ["intake"]})
    async with EmbeddedRuntime(
        db_path=tmp_path / "db.sqlite3", provider=provider, extra_plugins=[tally_plugin]
    ) as rt:
        run = await rt.submit(request)
        final = await rt.drive(run.id)
        recorded = await rt.store.list_llm_calls(run_id=run.id)
    assert final.status is RunStatus.SUCCEEDED, final.status_reason
    assert recorded and {c.provider for c in recorded} == {"tally"}
    assert len(calls.read_text(encoding="utf-8").splitlines()) == len(recorded)


@pytest.fixture(scope="module")
def entry_point_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A process environment where the tally plugin is an installed ``ideamine.agents`` entry point.

    A ``*.dist-info`` directory on ``sys.path`` is all entry-point discovery looks at, so
    nothing is installed into the shared virtualenv (other test processes load every
    installed entry point).
    """
    site = tmp_path_factory.mktemp("site")
    info = site / "ideamine_tally-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: ideamine-tally\nVersion: 0.1\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[ideamine.agents]\ntally = tests.llm.tally_plugin\n", encoding="utf-8"
    )
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}


def _cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ideamine.cli.main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_ideamine_run_with_an_entry_point_provider(entry_point_env: dict[str, str], tmp_path: Path) -> None:
    calls = tmp_path / "calls.txt"
    out = tmp_path / "out"
    done = _cli(
        entry_point_env, tmp_path, "run", IDEA, "--phases", "intake", "--out", str(out), "--quiet",
        "--model", f"tally:{calls}",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert calls.read_text(encoding="utf-8").splitlines(), "the plugin's provider answered no request"
    assert (out / "report.md").is_file()


def test_ideamine_run_with_an_unknown_model_lists_the_plugin_provider(
    entry_point_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    done = _cli(entry_point_env, tmp_path, "run", IDEA, "--out", str(out), "--quiet", "--model", "gpt-9")
    assert done.returncode == 2
    assert "--model: unknown LLM provider 'gpt-9'" in done.stderr
    assert "tally[:ARG]" in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()
