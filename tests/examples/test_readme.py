"""``examples/README.md`` matches the tree: every path it names exists, every example is listed."""

from __future__ import annotations

import re

from tests.examples.support import EXAMPLES
from tests.orchestrator.support import ROOT

README = (EXAMPLES / "README.md").read_text(encoding="utf-8")
PATHS = set(re.findall(r"`(examples/[\w./-]+)`", README))


def test_every_path_the_readme_names_exists() -> None:
    missing = sorted(p for p in PATHS if not (ROOT / p).exists())
    assert not missing, f"examples/README.md names missing paths: {missing}"


def test_every_example_file_is_listed() -> None:
    files = [*(EXAMPLES / "orchestrations").iterdir(), *(EXAMPLES / "clients").rglob("*.*")]
    unlisted = sorted(
        str(p.relative_to(ROOT)) for p in files if p.is_file() and str(p.relative_to(ROOT)) not in PATHS
    )
    assert not unlisted, f"examples/README.md does not list {unlisted}"
