"""``ideamine serve SERVICE``: run one of IdeaMine's long-running services.

Each service is one entry of :data:`SERVERS` (name → :class:`ServerCommand`): its help
line, a function adding its flags, and a function running it. Adding a service means
adding an entry, e.g. ``SERVERS["agent-host"] = ServerCommand(...)``; nothing else here
changes. Flags default to None so that each service's ``config.py`` can apply the
``IDEAMINE_*`` environment and its defaults (only config modules read the environment).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from agent_host.config import add_arguments as add_agent_host_arguments
from ideamine import event_loop
from ideamine.cli.gateway_cmd import SERVE_HELP, add_serve_arguments, serve_gateway
from orchestrator.config import DEFAULT_METRICS_PORT as ORCHESTRATOR_METRICS_PORT
from orchestrator.config import OrchestratorConfig, load_config

__all__ = ["ServerCommand", "SERVERS", "orchestrator_config", "register"]


@dataclass(frozen=True)
class ServerCommand:
    """One ``ideamine serve <name>`` service."""

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def _orchestrator_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--database-url", metavar="URL", help="PostgreSQL URL (env IDEAMINE_DATABASE_URL)")
    p.add_argument("--redis-url", metavar="URL", help="Redis URL (env IDEAMINE_REDIS_URL)")
    p.add_argument("--listen", metavar="HOST:PORT", help="gRPC address (default 127.0.0.1:50051)")
    p.add_argument("--replica-id", metavar="NAME", help="this replica's name (default host-pid)")
    p.add_argument(
        "--insecure-local",
        action="store_true",
        default=None,
        help="disable authentication (every caller is tenant 'local' with all roles); local use only",
    )
    p.add_argument("--jwt-jwks-file", metavar="PATH", help="JWKS with the token signing keys")
    p.add_argument("--jwt-jwks-url", metavar="URL", help="JWKS endpoint with the token signing keys")
    p.add_argument(
        "--jwt-hs256-secret", metavar="SECRET", help="accept HS256 tokens signed with this secret (local use)"
    )
    p.add_argument("--jwt-issuer", metavar="ISS", help="required token issuer (default ideamine)")
    p.add_argument("--jwt-audience", metavar="AUD", help="required token audience (default ideamine-api)")
    p.add_argument("--lease-seconds", type=_positive, help="run lease time (default 15)")
    p.add_argument("--reconcile-seconds", type=_positive, help="queue reconcile interval (default 30)")
    p.add_argument(
        "--lost-worker-seconds",
        type=_positive,
        help="how long a worker's liveness lock must stay free before its tasks move on (default 5)",
    )
    p.add_argument(
        "--max-active-runs",
        type=_non_negative_int,
        metavar="N",
        help="most runs this replica drives at once (default 100; 0: serve the API, drive no run)",
    )
    p.add_argument("--queue-prefix", metavar="PREFIX", help="Redis key namespace (default ideamine)")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.add_argument(
        "--metrics-port",
        type=int,
        default=ORCHESTRATOR_METRICS_PORT,
        help="/metrics port on the listen interface (default 9464; 0: any free port)",
    )


#: the orchestrator flags that become :class:`orchestrator.config.OrchestratorConfig` fields
_ORCHESTRATOR_SETTINGS = (
    "database_url",
    "redis_url",
    "listen",
    "replica_id",
    "insecure_local",
    "jwt_jwks_file",
    "jwt_jwks_url",
    "jwt_hs256_secret",
    "jwt_issuer",
    "jwt_audience",
    "lease_seconds",
    "reconcile_seconds",
    "lost_worker_seconds",
    "max_active_runs",
    "queue_prefix",
)


def orchestrator_config(args: argparse.Namespace) -> OrchestratorConfig:
    """The config the parsed ``serve orchestrator`` flags ask for (flags over environment over defaults).

    Raises:
        InvalidInput: naming every missing or malformed setting.
    """
    return load_config({name: getattr(args, name) for name in _ORCHESTRATOR_SETTINGS})


def _run_orchestrator(args: argparse.Namespace) -> int:
    from ideamine.observability import setup_service
    from orchestrator.server import OrchestratorServer

    config = orchestrator_config(args)
    event_loop.chosen_loop()  # refuse a bad IDEAMINE_EVENT_LOOP before anything starts
    obs = setup_service(
        "ideamine-orchestrator",
        metrics_port=args.metrics_port,
        listen=config.listen,
        log_level=args.log_level,
    )
    try:
        event_loop.run(OrchestratorServer(config).run(freeze_heap=True))
    finally:
        obs.close()
    return 0


def _run_agent_host(args: argparse.Namespace) -> int:
    from agent_host.__main__ import serve

    return serve(args)


#: every service ``ideamine serve`` can run, by name
SERVERS: dict[str, ServerCommand] = {
    "orchestrator": ServerCommand(
        help="the orchestrator: gRPC API, auth, run ownership (PostgreSQL + Redis)",
        add_arguments=_orchestrator_arguments,
        run=_run_orchestrator,
    ),
    "gateway": ServerCommand(SERVE_HELP, add_serve_arguments, serve_gateway),
    "agent-host": ServerCommand(
        help="an agent host: runs agent plugins on tasks from Redis (PostgreSQL + Redis)",
        add_arguments=add_agent_host_arguments,
        run=_run_agent_host,
    ),
}


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``serve`` with one subcommand per entry of :data:`SERVERS`."""
    serve = sub.add_parser("serve", help="run a long-running service")
    services = serve.add_subparsers(dest="service", metavar="SERVICE", required=True)
    for name, command in SERVERS.items():
        p = services.add_parser(name, help=command.help)
        command.add_arguments(p)
        p.set_defaults(handler=command.run)
