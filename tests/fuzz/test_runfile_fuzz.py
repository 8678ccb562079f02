"""YAML run files, fuzzed: random documents and mutations of the shipped examples.

A run file either parses into a request that can really be stored — created as a run in
a SQLite store, so NaN budgets or unstorable text cannot slip through — or is refused
with :class:`~ideamine.errors.InvalidInput`. Nothing else may escape
:func:`ideamine.runfile.load_run_file`. A refused file given to ``ideamine run`` exits
with code 2 and one line on stderr, never a traceback, and writes nothing.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml
from hypothesis import given
from hypothesis import strategies as st

from ideamine.cli.main import main
from ideamine.errors import InvalidInput
from ideamine.runfile import RunRequest, load_run_file
from ideamine.store.base import RunStore
from ideamine.store.records import NewRun
from ideamine.store.sqlite import open_sqlite
from tests.fuzz.values import json_values

pytestmark = pytest.mark.asyncio(loop_scope="module")

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples" / "orchestrations").glob("*.yaml"))
_DOCS = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in EXAMPLES]

#: values YAML can express beyond JSON: special floats, dates, binary, nulls, huge numbers
_yaml_scalars = st.one_of(
    st.sampled_from([float("nan"), float("inf"), float("-inf"), -1, 0, 10**30, -(10**30), "", None, True]),
    st.dates(),
    st.datetimes(),
    st.binary(max_size=8),
    st.text(max_size=60),
    st.text(min_size=10, max_size=200),
)
_values = st.one_of(_yaml_scalars, json_values, st.lists(_yaml_scalars, max_size=4))


@st.composite
def _mutated_example(draw: st.DrawFn) -> str:
    """An example run file with keys dropped, replaced or added (nested ones too)."""
    doc: dict[str, Any] = dict(draw(st.sampled_from(_DOCS)))
    for key in list(doc):
        action = draw(st.sampled_from(["keep", "keep", "drop", "replace", "nested"]))
        if action == "drop":
            del doc[key]
        elif action == "replace":
            doc[key] = draw(_values)
        elif action == "nested" and isinstance(doc[key], dict):
            inner = dict(doc[key])
            inner[draw(st.sampled_from([*inner, "extra"]))] = draw(_values)
            doc[key] = inner
    if draw(st.booleans()):
        doc[draw(st.text(max_size=10))] = draw(_values)
    if draw(st.booleans()):  # numbers get special attention: limits feed budget arithmetic
        section, key = draw(st.sampled_from(_NUMBERS))
        current = doc.get(section)
        doc[section] = {**(current if isinstance(current, dict) else {}), key: draw(_yaml_scalars)}
    return yaml.safe_dump(doc, allow_unicode=draw(st.booleans()))


_NUMBERS = [
    ("budget", "max_usd"),
    ("budget", "max_tokens"),
    ("budget", "max_wall_clock_minutes"),
    ("constraints", "budget_usd"),
]


@st.composite
def _text_edits(draw: st.DrawFn) -> bytes:
    """A shipped example with bytes cut, inserted or overwritten (maybe no longer UTF-8 or YAML)."""
    data = bytearray(draw(st.sampled_from(EXAMPLES)).read_bytes())
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        edit = draw(st.sampled_from(["cut", "insert", "truncate"]))
        if edit == "cut":
            del data[at : at + draw(st.integers(1, 40))]
        elif edit == "insert":
            data[at:at] = draw(
                st.binary(min_size=1, max_size=12)
                | st.sampled_from([b":", b"- ", b"\t", b"&a *a", b"!!python/object:os.system"])
            )
        else:
            del data[at:]
    return bytes(data)


_documents = st.one_of(
    _mutated_example().map(str.encode),
    _text_edits(),
    _values.map(lambda v: yaml.safe_dump(v).encode()),  # a valid YAML document, rarely a mapping
    st.binary(max_size=300),  # anything at all
    st.integers(50, 20_000).map(lambda n: ("[" * n + "]" * n).encode()),  # deeply nested YAML
    st.sampled_from(
        [
            b"a: &a [x, x, x, x]\nb: &b [*a, *a, *a, *a]\nc: &c [*b, *b, *b, *b]\nidea: *c\n",  # alias bomb
            b"idea: !!python/object/apply:os.system ['true']\n",
            b"\xef\xbb\xbfidea: a byte-order mark before the first key\n",
            b"",
        ]
    ),
)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def store(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunStore]:
    """Where accepted requests are created, proving they are storable."""
    s = await open_sqlite(tmp_path_factory.mktemp("runfile-fuzz") / "runs.sqlite3")
    try:
        yield s
    finally:
        await s.close()


async def _create(store: RunStore, request: RunRequest) -> None:
    await store.create_run(
        NewRun(
            tenant="fuzz",
            title=request.title,
            idea=request.idea_document(),
            phases=request.phases,
            budget=request.budget,
            policy=request.policy,
        )
    )


def _cli_exit(path: Path, out: Path) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["run", str(path), "--out", str(out), "--quiet"])
    return code, err.getvalue()


@given(document=_documents)
async def test_run_files_parse_to_storable_requests_or_are_invalid_input(
    store: RunStore, tmp_path_factory: pytest.TempPathFactory, document: bytes
) -> None:
    directory = tmp_path_factory.mktemp("doc")
    path = directory / "run.yaml"
    path.write_bytes(document)
    try:
        request = load_run_file(str(path))
    except InvalidInput as exc:
        assert exc.message and "Traceback" not in exc.message
        code, stderr = _cli_exit(path, directory / "out")
        assert code == 2, stderr
        assert stderr.startswith("ideamine: error: ") and "Traceback" not in stderr, stderr
        assert not (directory / "out").exists()  # refused before anything was written
        return
    await _create(store, request)  # accepted: it must really be storable
