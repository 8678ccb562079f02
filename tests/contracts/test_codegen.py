"""The committed generated code is exactly what scripts/gen_proto.py produces now."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import ideamine._proto

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "ideamine" / "_proto"


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_generated_code_is_up_to_date(tmp_path: Path) -> None:
    out = tmp_path / "_proto"
    subprocess.run(
        [sys.executable, "scripts/gen_proto.py", "--out", str(out)], cwd=ROOT, check=True, capture_output=True
    )
    fresh, committed = _tree(out), _tree(COMMITTED)
    assert sorted(fresh) == sorted(committed), "files differ: run `python scripts/gen_proto.py`"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"stale generated files {stale}: run `python scripts/gen_proto.py`"


def test_generation_is_deterministic(tmp_path: Path) -> None:
    for name in ("a", "b"):
        subprocess.run(
            [sys.executable, "scripts/gen_proto.py", "--out", str(tmp_path / name)],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")


def test_every_generated_module_imports_as_part_of_the_package() -> None:
    names = [m.name for m in pkgutil.walk_packages(ideamine._proto.__path__, "ideamine._proto.")]
    assert "ideamine._proto.ideamine.v1.run_pb2" in names
    for name in names:
        module = importlib.import_module(name)
        for attr in vars(module).values():
            if isinstance(attr, type) and hasattr(attr, "DESCRIPTOR") and name.endswith("_pb2"):
                assert attr.__module__ == name, f"{attr} records module {attr.__module__}"
