"""Orchestrator settings: the only module of the service that reads the environment.

:func:`load_config` merges, in order of precedence, explicit values (the command line),
the ``IDEAMINE_*`` environment and the defaults below, and validates the result into a
frozen :class:`OrchestratorConfig`. Everything else receives the config as an argument.

Environment variables read here: ``IDEAMINE_DATABASE_URL``, ``IDEAMINE_REDIS_URL``,
``IDEAMINE_JWT_JWKS_FILE``, ``IDEAMINE_JWT_JWKS_URL``, ``IDEAMINE_JWT_HS256_SECRET``,
``IDEAMINE_JWT_ISSUER`` (default ``ideamine``), ``IDEAMINE_JWT_AUDIENCE`` (default
``ideamine-api``).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ideamine.errors import FieldViolation, InvalidInput

__all__ = ["DEFAULT_LISTEN", "DEFAULT_METRICS_PORT", "JwtSettings", "OrchestratorConfig", "load_config"]

#: where the orchestrator listens unless told otherwise (containers use 0.0.0.0:50051)
DEFAULT_LISTEN = "127.0.0.1:50051"
#: the orchestrator's Prometheus port by convention (``ideamine serve orchestrator --metrics-port``)
DEFAULT_METRICS_PORT = 9464


@dataclass(frozen=True, kw_only=True)
class JwtSettings:
    """How bearer tokens are verified (see :mod:`orchestrator.auth`).

    Attributes:
        jwks_file: JSON Web Key Set on disk (RS256/ES256 public keys).
        jwks_url: JWKS endpoint, fetched and cached (key rotation).
        hs256_secret: shared secret; enables HS256 tokens (local use only).
        issuer: required ``iss`` claim.
        audience: required ``aud`` claim.
        leeway_seconds: clock skew tolerated on ``exp``/``nbf``/``iat``.
    """

    jwks_file: Path | None = None
    jwks_url: str | None = None
    hs256_secret: str | None = field(default=None, repr=False)
    issuer: str = "ideamine"
    audience: str = "ideamine-api"
    leeway_seconds: float = 30.0

    @property
    def configured(self) -> bool:
        """Whether at least one way to verify a token exists."""
        return bool(self.jwks_file or self.jwks_url or self.hs256_secret)


@dataclass(frozen=True, kw_only=True)
class OrchestratorConfig:
    """Everything ``ideamine serve orchestrator`` runs with.

    Attributes:
        database_url: PostgreSQL URL (the source of truth).
        redis_url: Redis URL (the task transport).
        listen: ``host:port`` of the gRPC server (port 0 picks one).
        replica_id: this replica's name; the run lease owner and the notices consumer.
        insecure_local: no authentication; every caller is tenant ``local`` with all roles.
        jwt: token verification settings (ignored when ``insecure_local``).
        queue_prefix: Redis key namespace.
        lease_seconds: run lease time; a dead replica's runs move on after this long.
        reconcile_seconds: interval of the queue reconciler.
        lost_worker_seconds: how long a worker's liveness lock must stay free before its
            RUNNING tasks move to other workers (``orchestrator.lost_workers``).
        outbox_poll_seconds: interval of the outbox relay and notices reader.
        watch_poll_seconds: how often a WatchRun stream re-reads the ledger.
        host_heartbeat_seconds: heartbeat interval handed to registering agent hosts.
        max_active_runs: most runs this replica owns at once.
        health_interval: seconds between dependency health probes.
        grace_seconds: how long in-flight calls may finish on shutdown.
    """

    database_url: str
    redis_url: str
    listen: str = DEFAULT_LISTEN
    replica_id: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    insecure_local: bool = False
    jwt: JwtSettings = field(default_factory=JwtSettings)
    queue_prefix: str = "ideamine"
    lease_seconds: float = 15.0
    reconcile_seconds: float = 30.0
    lost_worker_seconds: float = 5.0
    outbox_poll_seconds: float = 0.1
    watch_poll_seconds: float = 0.25
    host_heartbeat_seconds: float = 5.0
    max_active_runs: int = 100
    health_interval: float = 5.0
    grace_seconds: float = 10.0


_ENV = {
    "database_url": "IDEAMINE_DATABASE_URL",
    "redis_url": "IDEAMINE_REDIS_URL",
}
_JWT_ENV = {
    "jwks_file": "IDEAMINE_JWT_JWKS_FILE",
    "jwks_url": "IDEAMINE_JWT_JWKS_URL",
    "hs256_secret": "IDEAMINE_JWT_HS256_SECRET",
    "issuer": "IDEAMINE_JWT_ISSUER",
    "audience": "IDEAMINE_JWT_AUDIENCE",
}
_POSITIVE = (
    "lease_seconds",
    "reconcile_seconds",
    "lost_worker_seconds",
    "outbox_poll_seconds",
    "watch_poll_seconds",
)


def _pick(explicit: Mapping[str, Any], name: str, env: str | None, environ: Mapping[str, str]) -> Any:
    value = explicit.get(name)
    if value is None and env is not None:
        value = environ.get(env, "").strip() or None
    return value


def _whole_number(value: Any) -> bool:
    """Whether ``value`` is an int >= 0 (0 runs: a replica that serves the API but drives no run)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def load_config(
    explicit: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None
) -> OrchestratorConfig:
    """Build the config from explicit values (None = not given), the environment and defaults.

    Args:
        explicit: values from the command line; keys are :class:`OrchestratorConfig` field
            names, plus ``jwt_<field>`` for :class:`JwtSettings`. None values are ignored.
        environ: the environment to read (default ``os.environ``).

    Raises:
        InvalidInput: naming every missing or malformed setting.
    """
    given = {k: v for k, v in (explicit or {}).items() if v is not None}
    env = os.environ if environ is None else environ
    errs: list[FieldViolation] = []
    values: dict[str, Any] = {}
    for name in ("database_url", "redis_url"):
        value = _pick(given, name, _ENV[name], env)
        if not value:
            errs.append(FieldViolation(name, f"is required (--{name.replace('_', '-')} or {_ENV[name]})"))
        values[name] = value or ""
    jwt_given = {k.removeprefix("jwt_"): v for k, v in given.items() if k.startswith("jwt_")}
    jwt_values = {n: v for n, e in _JWT_ENV.items() if (v := _pick(jwt_given, n, e, env)) is not None}
    if "leeway_seconds" in jwt_given:
        jwt_values["leeway_seconds"] = float(jwt_given["leeway_seconds"])
    if "jwks_file" in jwt_values:
        jwt_values["jwks_file"] = Path(jwt_values["jwks_file"])
        if not jwt_values["jwks_file"].is_file():
            errs.append(FieldViolation("jwt_jwks_file", f"{jwt_values['jwks_file']} is not a readable file"))
    jwt = JwtSettings(**jwt_values)
    insecure = bool(given.get("insecure_local", False))
    if not insecure and not jwt.configured:
        errs.append(
            FieldViolation(
                "jwt",
                "no way to verify tokens: set --jwt-jwks-file, --jwt-jwks-url or --jwt-hs256-secret "
                "(or pass --insecure-local for local use only)",
            )
        )
    listen = str(given.get("listen", DEFAULT_LISTEN))
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        errs.append(FieldViolation("listen", f"must be HOST:PORT, not {listen!r}"))
    for name in _POSITIVE:
        if name in given and not float(given[name]) > 0:
            errs.append(FieldViolation(name, "must be a positive number of seconds"))
    if "max_active_runs" in given and not _whole_number(given["max_active_runs"]):
        errs.append(FieldViolation("max_active_runs", "must be a whole number of runs, 0 or more"))
    if "replica_id" in given and not str(given["replica_id"]).strip():
        errs.append(FieldViolation("replica_id", "must not be empty"))
    if errs:
        raise InvalidInput("; ".join(f"{v.field}: {v.description}" for v in errs), violations=errs)
    rest = {k: v for k, v in given.items() if not k.startswith("jwt_") and k not in values}
    rest["insecure_local"] = insecure
    return OrchestratorConfig(**values, **rest, jwt=jwt)
