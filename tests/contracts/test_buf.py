"""buf lint (STANDARD + COMMENTS) and buf format are clean."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUF = ROOT / "node_modules" / ".bin" / "buf"

pytestmark = pytest.mark.skipif(
    not BUF.exists(), reason="buf is not installed: run `npm ci` (Makefile: make install)"
)


def _buf(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BUF), *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=120
    )


def test_buf_lint_is_clean() -> None:
    result = _buf("lint")
    assert result.returncode == 0, result.stdout + result.stderr


def test_buf_format_is_clean() -> None:
    result = _buf("format", "--diff", "--exit-code")
    assert result.returncode == 0, "run `npx buf format -w`:\n" + result.stdout + result.stderr


def _shape(fds: object) -> set[tuple[str, ...]]:
    """Messages, fields, enums and methods of our files (option encodings may differ)."""
    shape: set[tuple[str, ...]] = set()
    for f in fds.file:  # type: ignore[attr-defined]
        if not f.name.startswith("ideamine/"):
            continue
        for m in f.message_type:
            shape.add((f.name, m.name))
            shape.update(
                (f.name, m.name, fl.name, str(fl.number), str(fl.type), fl.type_name) for fl in m.field
            )
        for e in f.enum_type:
            shape.update((f.name, e.name, v.name, str(v.number)) for v in e.value)
        for svc in f.service:
            shape.update((f.name, svc.name, m.name, m.input_type, m.output_type) for m in svc.method)
    return shape


def test_buf_and_protoc_see_the_same_api(tmp_path: Path) -> None:
    from google.protobuf import descriptor_pb2  # type: ignore[import-untyped]

    image = tmp_path / "image.binpb"
    result = _buf("build", "--as-file-descriptor-set", "-o", str(image))
    assert result.returncode == 0, result.stderr
    built = descriptor_pb2.FileDescriptorSet.FromString(image.read_bytes())
    ours = descriptor_pb2.FileDescriptorSet.FromString((ROOT / "ideamine/_proto/ideamine.pb").read_bytes())
    assert _shape(built) == _shape(ours)
    assert len(_shape(ours)) > 300
