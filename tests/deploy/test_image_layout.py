"""What the images install, checked without Docker: the wheel ``pip install .`` builds.

The Dockerfiles install the distribution from ``pyproject.toml`` into a venv, not the
source tree. A data file missing from the wheel (a settings schema, a phase catalogue, a
JSON Schema, the SQL migrations) or code that finds files relative to the repository would
only fail inside a container - or for anyone who ``pip install``s the wheel. So this builds
the same wheel, installs it with pip into a fresh prefix that stands in for the image's
venv (site-packages under ``lib/``, data files under ``share/``), and runs the installed
code from there - including ``ideamine migrate`` against the real PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest

from tests.deploy.manifests import ROOT
from tests.store_pg.conftest import empty_db  # noqa: F401 (the fresh-database fixture)

#: the top-level packages pyproject installs (what the wheel must carry)
PACKAGES = ("ideamine", "orchestrator", "agent_host", "plugins", "gateway")


def _context() -> list[str]:
    """The files a ``docker build`` of the working tree would see (tracked or new, not ignored)."""
    done = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.splitlines()


def _pip(*args: str, cwd: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site-packages of a prefix the wheel was pip-installed into (as in the images)."""
    base = tmp_path_factory.mktemp("image")
    src = base / "src"
    for rel in _context():
        if (ROOT / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, src / rel)
    # with build isolation, as in the Dockerfiles: the build backend pyproject.toml asks for
    _pip("wheel", "-q", "--no-deps", "-w", str(base / "wheels"), str(src), cwd=base)
    (wheel,) = (base / "wheels").glob("*.whl")
    prefix = base / "prefix"
    # --ignore-installed: without it pip "upgrades" the editable ideamine of the running
    # virtualenv by uninstalling it first, and every later test loses the package
    _pip(
        "install",
        "-q",
        "--no-deps",
        "--no-index",
        "--ignore-installed",
        "--prefix",
        str(prefix),
        str(wheel),
        cwd=base,
    )
    (target,) = prefix.glob("lib/python*/site-packages")
    return target


def _prefix(site: Path) -> Path:
    return site.parents[2]  # <prefix>/lib/pythonX.Y/site-packages


def _run(site: Path, code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Python with the installed copy first on the path, outside the repository."""
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=site.parent,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_wheel_carries_every_data_file_of_the_packages(site: Path) -> None:
    data = [r for r in _context() if r.split("/")[0] in PACKAGES and not r.endswith(".py")]
    assert data, "no data files found: wrong package list?"
    missing = [r for r in data if not (site / r).is_file()]
    assert not missing, f"not installed by `pip install .` (add them to package-data): {missing}"


def test_installed_code_finds_its_files_in_the_install(site: Path) -> None:
    """Settings schema, phase catalogue and migrations resolve inside the install, never the repository."""
    code = (
        "import gateway.config, ideamine.catalogue\n"
        "from ideamine.store.migrate import MIGRATIONS_DIR\n"
        "ideamine.catalogue.load_catalogue()\n"
        "print(gateway.config.SETTINGS_DIR, ideamine.catalogue.__file__, MIGRATIONS_DIR, sep='\\n')\n"
        "print(len(list(MIGRATIONS_DIR.glob('*.sql'))))\n"
    )
    done = _run(site, code)
    assert done.returncode == 0, done.stderr[-2000:]
    *paths, count = done.stdout.splitlines()
    for path in paths[:-1]:
        assert Path(path).resolve().is_relative_to(site.resolve()), f"found outside the install: {path}"
    # the SQL files are data files: pip put them under the prefix, not into site-packages
    assert Path(paths[-1]).resolve() == (_prefix(site) / "share/ideamine/migrations").resolve()
    # every file of migrations/, whatever its name: new migrations ship without a packaging change
    assert int(count) == len(list((ROOT / "migrations").glob("*.sql"))) > 0


@pytest.mark.postgres
async def test_the_migrate_image_layout_migrates_a_real_database(site: Path, empty_db: str) -> None:  # noqa: F811
    """What the migration Job runs: ``ideamine migrate --database-url URL`` from the install."""
    code = "import sys; from ideamine.cli.main import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "PYTHONPATH": str(site)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        "migrate",
        "--database-url",
        empty_db,
        cwd=site.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()[-2000:]
    applied = [f"applied {p.stem}" for p in sorted((ROOT / "migrations").glob("*.sql"))]
    assert out.decode().splitlines() == applied
    conn = await asyncpg.connect(empty_db)
    try:
        versions = [
            r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
        ]
    finally:
        await conn.close()
    assert versions == [int(p.stem.split("_")[0]) for p in sorted((ROOT / "migrations").glob("*.sql"))]
