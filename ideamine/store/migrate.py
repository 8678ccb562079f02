"""Forward-only SQL migrations for the PostgreSQL backend.

Migrations are plain SQL files ``migrations/NNNN_name.sql`` at the top of the repository.
The wheel carries them as data files (``pyproject.toml``: ``[tool.setuptools.data-files]``),
installed under ``<prefix>/share/ideamine/migrations``; :data:`MIGRATIONS_DIR` is the
checkout's folder when there is one, else that installed copy (:func:`find_migrations_dir`).
:func:`migrate` applies the
pending ones in version order, each in its own transaction together with its row in
``schema_migrations(version, name, checksum, applied_at)``, so a failure leaves the
database at the last good version. It is idempotent and refuses two situations that
would otherwise corrupt data silently:

- the database records a version this code does not know (it was migrated by newer
  code: running older code against it could write rows the newer schema forbids);
- an applied file's checksum changed (someone edited history instead of adding a file).

A session-level advisory lock serialises concurrent migrators (a Kubernetes migration Job
racing a developer's ``ideamine migrate``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]  # no stubs installed (asyncpg-stubs would fix)

from ideamine.errors import IdeaMineError, InvalidInput, StoreUnavailable

__all__ = [
    "INSTALLED_PATH",
    "MIGRATIONS_DIR",
    "Migration",
    "AppliedMigration",
    "MigrationError",
    "discover",
    "find_migrations_dir",
    "migrate",
    "applied_migrations",
    "check_schema",
    "connect",
]

#: where the wheel installs the SQL files, relative to the installation prefix
INSTALLED_PATH = "share/ideamine/migrations"


def find_migrations_dir() -> Path:
    """The folder of the SQL files this code was shipped with.

    In a checkout (or an editable install) that is the repository's ``migrations/`` next
    to the package. Otherwise it is the copy the wheel installed, found through the RECORD
    of the ``ideamine`` distribution that sits in the same directory as this package — not
    whichever ``ideamine`` comes first on ``sys.path``, and wherever pip put the prefix
    (venv, ``--prefix``, ``--user``). When neither exists the checkout path is returned,
    and :func:`discover` says that it is missing.
    """
    package_root = Path(__file__).resolve().parents[2]
    checkout = package_root / "migrations"
    if checkout.is_dir():
        return checkout
    for dist in metadata.distributions(name="ideamine", path=[str(package_root)]):
        for file in dist.files or ():
            if file.suffix == ".sql" and file.parent.as_posix().endswith(INSTALLED_PATH):
                return Path(str(dist.locate_file(file))).resolve().parent
    return checkout


#: where the SQL files live: the repository's ``migrations/``, or the wheel's installed copy
MIGRATIONS_DIR = find_migrations_dir()

#: advisory-lock key taken while migrating ("ideamine" as a 63-bit number)
_LOCK_KEY = int.from_bytes(b"ideamine", "big") & 0x7FFF_FFFF_FFFF_FFFF

_FILE_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL
)
"""


class MigrationError(IdeaMineError):
    """The database and the migration files disagree; nothing was changed."""

    reason = "MIGRATION_ERROR"


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    sql: str
    checksum: str  #: sha256 hex of the file with line endings normalised to ``\\n``


@dataclass(frozen=True)
class AppliedMigration:
    """One row of ``schema_migrations``."""

    version: int
    name: str
    checksum: str
    applied_at: datetime


def discover(directory: Path | None = None) -> list[Migration]:
    """Read and order the migration files of ``directory`` (default :data:`MIGRATIONS_DIR`).

    Raises:
        MigrationError: the folder is missing, a ``.sql`` file is misnamed or two files
            share a version.
    """
    directory = directory or MIGRATIONS_DIR
    if not directory.is_dir():
        raise MigrationError(f"no migrations folder at {directory} (is IdeaMine installed from its wheel?)")
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        m = _FILE_RE.match(path.name)
        if m is None:
            raise MigrationError(f"migration file {path.name!r} is not named NNNN_name.sql")
        version = int(m.group(1))
        if version in found:
            raise MigrationError(f"two migration files have version {version:04d}")
        sql = path.read_text(encoding="utf-8").replace("\r\n", "\n")
        checksum = hashlib.sha256(sql.encode("utf-8")).hexdigest()
        found[version] = Migration(version, m.group(2), sql, checksum)
    return [found[v] for v in sorted(found)]


async def applied_migrations(conn: asyncpg.Connection) -> list[AppliedMigration]:
    """Rows of ``schema_migrations`` in version order ([] before the first migration)."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return []
    rows = await conn.fetch(
        "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version"
    )
    return [AppliedMigration(r["version"], r["name"], r["checksum"], r["applied_at"]) for r in rows]


def _check_history(applied: list[AppliedMigration], known: list[Migration]) -> list[Migration]:
    """Refuse unknown or edited applied versions; return the pending migrations in order."""
    by_version = {m.version: m for m in known}
    for row in applied:
        mig = by_version.get(row.version)
        if mig is None:
            raise MigrationError(
                f"database has migration {row.version:04d}_{row.name} which this code does not know; "
                "it was migrated by a newer IdeaMine — upgrade instead of running older code against it",
                version=row.version,
            )
        if mig.checksum != row.checksum:
            raise MigrationError(
                f"migration {row.version:04d}_{row.name} was changed after it was applied "
                f"(checksum {row.checksum[:12]}… in the database, {mig.checksum[:12]}… on disk); "
                "migrations are forward-only: add a new file instead",
                version=row.version,
            )
    done = {row.version for row in applied}
    return [m for m in known if m.version not in done]


async def migrate(dsn_or_conn: str | asyncpg.Connection, *, directory: Path | None = None) -> list[Migration]:
    """Apply every pending migration; returns those applied (empty when up to date).

    Args:
        dsn_or_conn: a ``postgresql://`` URL, or an open connection (left open).
        directory: where the migration files are (tests point it at a temporary copy).

    Raises:
        MigrationError: unknown (newer) version in the database, or an edited file.
    """
    known = discover(directory)
    conn = await connect(dsn_or_conn) if isinstance(dsn_or_conn, str) else dsn_or_conn
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        try:
            await conn.execute(_CREATE_TABLE)
            pending = _check_history(await applied_migrations(conn), known)
            for mig in pending:
                async with conn.transaction():
                    await conn.execute(mig.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)",
                        mig.version,
                        mig.name,
                        mig.checksum,
                        datetime.now(UTC),
                    )
            return pending
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    finally:
        if isinstance(dsn_or_conn, str):
            await conn.close()


async def connect(dsn: str) -> asyncpg.Connection:
    """One connection for migrating, with connection failures mapped into the error tree.

    Raises:
        InvalidInput: the URL is malformed.
        StoreUnavailable: the server cannot be reached or refuses the login.
    """
    try:
        return await asyncpg.connect(dsn)
    except ValueError as exc:  # includes asyncpg.ClientConfigurationError
        raise InvalidInput(f"bad database URL: {exc}", field="database_url") from exc
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise StoreUnavailable(f"cannot connect to the database: {type(exc).__name__}: {exc}") from exc


async def check_schema(conn: asyncpg.Connection, *, directory: Path | None = None) -> None:
    """Refuse to run against a database that is not exactly at this code's migrations.

    Called by the store's ``open()`` so a process never writes into a schema it was not
    built for.

    Raises:
        MigrationError: pending migrations, an unknown newer version, or an edited file.
    """
    pending = _check_history(await applied_migrations(conn), discover(directory))
    if pending:
        names = ", ".join(f"{m.version:04d}_{m.name}" for m in pending)
        raise MigrationError(f"database is not migrated (pending: {names}); run `ideamine migrate`")
