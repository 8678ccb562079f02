"""Agent-host settings: command-line flags over environment variables, validated once.

The only module of ``agent_host`` that reads ``os.environ``. Precedence per setting: the
flag, then the environment variable, then the default. Defaults for leases and heartbeats
come from the phase catalogue (``defaults`` in ``ideamine/phases.yaml``) so the host, the
embedded runtime and the engine agree unless told otherwise.

================  ===========================  ===============================
flag              environment                  default
================  ===========================  ===============================
--database-url    IDEAMINE_DATABASE_URL        (required)
--redis-url       IDEAMINE_REDIS_URL           (required)
--orchestrator    IDEAMINE_ORCHESTRATOR_ADDR   none: run without registering
--model           IDEAMINE_MODEL               offline
(token)           IDEAMINE_HOST_TOKEN          none
(token)           IDEAMINE_JWT_HS256_SECRET    none
(token)           IDEAMINE_JWT_ISSUER          ideamine
(token)           IDEAMINE_JWT_AUDIENCE        ideamine-api
--listen                                       127.0.0.1:50061
--metrics-port                                 9465 (0: any free port)
--host-id                                      a new UUID per start
================  ===========================  ===============================

Calls to the orchestrator carry ``IDEAMINE_HOST_TOKEN`` when set (e.g. issued by the
identity provider); otherwise, when the orchestrator shares an HS256 secret (local use),
the host mints its own short-lived operator token; with neither it sends none, which an
orchestrator started with ``--insecure-local`` accepts.

Bad values raise :class:`~ideamine.errors.InvalidInput` naming the flag, which the CLI
turns into exit code 2 with one line of explanation.
"""

from __future__ import annotations

import argparse
import os
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from ideamine.catalogue import load_catalogue
from ideamine.errors import InvalidInput
from ideamine.ids import is_id, new_id
from ideamine.queue.keys import DEFAULT_PREFIX, QueueKeys

if TYPE_CHECKING:  # the anthropic SDK takes seconds to import; only --model anthropic needs it
    from ideamine.llm.anthropic_provider import AnthropicConfig

__all__ = [
    "DEFAULT_LISTEN",
    "DEFAULT_METRICS_PORT",
    "HostConfig",
    "Isolation",
    "add_arguments",
    "agent_environment",
    "config_from_args",
]

#: where the agent host serves AgentHostService + health by default (service conventions)
DEFAULT_LISTEN = "127.0.0.1:50061"
#: the agent host's Prometheus port by convention
DEFAULT_METRICS_PORT = 9465

Isolation = Literal["none", "process"]


@dataclass(frozen=True, kw_only=True)
class HostConfig:
    """Everything one agent-host process needs, validated.

    Attributes:
        database_url: PostgreSQL URL of the run store (SQLite works for local use).
        redis_url: Redis URL of the task queue (``memory://`` only makes sense in-process).
        queue_prefix: key namespace of the queue; tests use a unique one.
        orchestrator: ``host:port`` of the orchestrator's HostRegistryService, or None.
        orchestrator_token: bearer token for calls to the orchestrator (IDEAMINE_HOST_TOKEN).
        jwt_hs256_secret: shared HS256 secret (IDEAMINE_JWT_HS256_SECRET); without a token
            the host mints its own short-lived operator token with it (local use).
        jwt_issuer: ``iss`` of a minted token (IDEAMINE_JWT_ISSUER).
        jwt_audience: ``aud`` of a minted token (IDEAMINE_JWT_AUDIENCE).
        listen: ``host:port`` the gRPC server binds (port 0 picks a free port).
        metrics_port: port of ``/metrics`` on the listen interface (0: any free port).
        log_level: root log level of the service's JSON logs.
        advertise: address given to the orchestrator (default: the bound address).
        host_id: this host's id, a UUID (the registry's key); also its Redis consumer name.
        name: human-readable name given to the orchestrator (``<hostname>-<pid>``).
        concurrency: tasks run at once.
        model: LLM provider spec (``offline``, ``anthropic``, ``replay:PATH``).
        anthropic: Anthropic settings when ``model`` is ``anthropic``.
        isolation: ``none`` (agents run in this process) or ``process`` (a child per task).
        memory_limit_mb: address-space limit (RLIMIT_AS) of an isolated agent process.
        cpu_limit_seconds: CPU-time limit (RLIMIT_CPU) of an isolated agent process.
        lease_seconds: task lease; a task idle this long is reclaimed by another host.
        heartbeat_seconds: how often a running task's lease and the registration are renewed.
        grace_seconds: how long in-flight tasks may take to finish when draining.
    """

    database_url: str
    redis_url: str
    queue_prefix: str = DEFAULT_PREFIX
    orchestrator: str | None = None
    orchestrator_token: str | None = field(default=None, repr=False)
    jwt_hs256_secret: str | None = field(default=None, repr=False)
    jwt_issuer: str = "ideamine"
    jwt_audience: str = "ideamine-api"
    listen: str = DEFAULT_LISTEN
    metrics_port: int = DEFAULT_METRICS_PORT
    log_level: str = "INFO"
    advertise: str | None = None
    host_id: str
    name: str = ""
    concurrency: int = 4
    model: str = "offline"
    anthropic: AnthropicConfig | None = None
    isolation: Isolation = "none"
    memory_limit_mb: int = 1024
    cpu_limit_seconds: int = 300
    lease_seconds: float
    heartbeat_seconds: float
    grace_seconds: float = 30.0

    def __post_init__(self) -> None:
        _check_address(self.listen, "listen")
        if self.orchestrator is not None:
            _check_address(self.orchestrator, "orchestrator")
        if self.advertise is not None:
            _check_address(self.advertise, "advertise")
        if not is_id(self.host_id):
            raise InvalidInput("--host-id must be a UUID (the default is a new one)", field="host_id")
        try:
            QueueKeys(self.queue_prefix)
        except ValueError as exc:
            raise InvalidInput(str(exc), field="queue_prefix") from None
        if self.isolation not in ("none", "process"):
            raise InvalidInput("--isolation must be none or process", field="isolation")
        _check_positive(self, "concurrency", "memory_limit_mb", "cpu_limit_seconds")
        _check_positive(self, "lease_seconds", "heartbeat_seconds")
        if not 0 <= self.metrics_port <= 65535:
            raise InvalidInput("--metrics-port must be between 0 and 65535", field="metrics_port")
        if self.grace_seconds < 0:
            raise InvalidInput("--grace-seconds must be >= 0", field="grace_seconds")
        if self.heartbeat_seconds >= self.lease_seconds:
            raise InvalidInput(
                "--heartbeat-seconds must be shorter than --lease-seconds (a lease must outlive a beat)",
                field="heartbeat_seconds",
            )


def _check_positive(config: HostConfig, *names: str) -> None:
    for name in names:
        if not getattr(config, name) > 0:
            raise InvalidInput(f"--{name.replace('_', '-')} must be > 0", field=name)


def _check_address(value: str, field: str) -> None:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise InvalidInput(f"--{field} must be host:port (e.g. 127.0.0.1:50061), not {value!r}", field=field)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the agent host's flags (shared by ``ideamine serve agent-host`` and ``python -m agent_host``)."""
    parser.add_argument("--database-url", metavar="URL", help="run store (env IDEAMINE_DATABASE_URL)")
    parser.add_argument("--redis-url", metavar="URL", help="task queue (env IDEAMINE_REDIS_URL)")
    parser.add_argument("--queue-prefix", default=DEFAULT_PREFIX, help="queue key namespace")
    parser.add_argument(
        "--orchestrator",
        metavar="ADDR",
        help="orchestrator host:port to register with (env IDEAMINE_ORCHESTRATOR_ADDR)",
    )
    parser.add_argument("--listen", default=DEFAULT_LISTEN, metavar="ADDR", help="gRPC listen address")
    parser.add_argument(
        "--metrics-port", type=int, default=DEFAULT_METRICS_PORT, help="/metrics port (0: any free port)"
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--advertise", metavar="ADDR", help="address given to the orchestrator")
    parser.add_argument("--host-id", help="host id, a UUID (default: a new one per start)")
    parser.add_argument("--concurrency", type=int, default=4, help="tasks run at once")
    parser.add_argument(
        "--model",
        help="offline | anthropic | replay:FILE | record:FILE | a plugin provider NAME[:ARG] (env IDEAMINE_MODEL)",
    )
    parser.add_argument("--isolation", choices=("none", "process"), default="none")
    parser.add_argument("--memory-limit-mb", type=int, default=1024, help="RLIMIT_AS per isolated task")
    parser.add_argument("--cpu-limit-seconds", type=int, default=300, help="RLIMIT_CPU per isolated task")
    parser.add_argument("--lease-seconds", type=float, help="task lease (catalogue default)")
    parser.add_argument("--heartbeat-seconds", type=float, help="lease renewal interval (catalogue default)")
    parser.add_argument("--grace-seconds", type=float, default=30.0, help="drain grace on SIGTERM")


def _env(name: str, environ: Mapping[str, str]) -> str | None:
    value = environ.get(name, "").strip()
    return value or None


def config_from_args(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> HostConfig:
    """Build the validated config from parsed flags and the environment.

    Raises:
        InvalidInput: a required setting is missing or a value is out of range.
    """
    env = os.environ if environ is None else environ
    defaults = load_catalogue().defaults
    database_url = args.database_url or _env("IDEAMINE_DATABASE_URL", env)
    redis_url = args.redis_url or _env("IDEAMINE_REDIS_URL", env)
    if not database_url:
        raise InvalidInput("--database-url (or IDEAMINE_DATABASE_URL) is required", field="database_url")
    if not redis_url:
        raise InvalidInput("--redis-url (or IDEAMINE_REDIS_URL) is required", field="redis_url")
    model = args.model or _env("IDEAMINE_MODEL", env) or "offline"
    anthropic = None
    if model == "anthropic":
        from ideamine.config import anthropic_config_from_env

        anthropic = anthropic_config_from_env()
    return HostConfig(
        database_url=database_url,
        redis_url=redis_url,
        queue_prefix=args.queue_prefix,
        orchestrator=args.orchestrator or _env("IDEAMINE_ORCHESTRATOR_ADDR", env),
        orchestrator_token=_env("IDEAMINE_HOST_TOKEN", env),
        jwt_hs256_secret=_env("IDEAMINE_JWT_HS256_SECRET", env),
        jwt_issuer=_env("IDEAMINE_JWT_ISSUER", env) or "ideamine",
        jwt_audience=_env("IDEAMINE_JWT_AUDIENCE", env) or "ideamine-api",
        listen=args.listen,
        metrics_port=args.metrics_port,
        log_level=args.log_level,
        advertise=args.advertise,
        host_id=args.host_id or new_id(),
        name=f"{socket.gethostname()}-{os.getpid()}",
        concurrency=args.concurrency,
        model=model,
        anthropic=anthropic,
        isolation=args.isolation,
        memory_limit_mb=args.memory_limit_mb,
        cpu_limit_seconds=args.cpu_limit_seconds,
        lease_seconds=args.lease_seconds if args.lease_seconds is not None else defaults.lease_seconds,
        heartbeat_seconds=(
            args.heartbeat_seconds if args.heartbeat_seconds is not None else defaults.heartbeat_seconds
        ),
        grace_seconds=args.grace_seconds,
    )


def agent_environment(names: Iterable[str]) -> dict[str, str]:
    """The variables an isolated agent declared (``env`` on its class), from this process.

    Only declared names that are set are passed; everything else — database URLs, API
    keys, tokens — stays out of the agent's process.
    """
    return {n: os.environ[n] for n in names if n in os.environ}
