"""Gateway settings: a small YAML file plus the shared ``IDEAMINE_*`` environment.

The only module of the gateway that reads files or the environment (STYLE.md rule 14).
:func:`load_settings` reads a settings file (``gateway/settings/default.yaml`` when none is
given), checks it against ``gateway/settings/schema.json``, applies the environment and
returns a frozen :class:`GatewaySettings`; the renderer never looks anywhere else.

Environment (overrides the file, so one file serves every deployment):

- ``IDEAMINE_ORCHESTRATOR_ADDR``: upstream ``host:port`` list, comma-separated;
- ``IDEAMINE_JWT_JWKS_FILE`` / ``IDEAMINE_JWT_JWKS_URL`` / ``IDEAMINE_JWT_HS256_SECRET``:
  the token key source (at most one; it replaces the file's source). The HS256 secret is
  for local use and becomes an inline symmetric JWK, the same secret the orchestrator
  checks tokens with;
- ``IDEAMINE_JWT_ISSUER`` / ``IDEAMINE_JWT_AUDIENCE`` (comma-separated audiences).

Every problem is an :class:`~ideamine.errors.InvalidInput` naming the offending key.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

import yaml
from jsonschema import Draft202012Validator

from ideamine.errors import InvalidInput

__all__ = [
    "Address",
    "CorsSettings",
    "GatewaySettings",
    "JwtSettings",
    "LimitSettings",
    "RateLimitSettings",
    "RbacSettings",
    "SETTINGS_DIR",
    "UpstreamSettings",
    "load_settings",
    "settings_file",
]

#: the example settings files shipped with the package (default, production, test)
SETTINGS_DIR = Path(__file__).resolve().parent / "settings"
_SCHEMA = Draft202012Validator(json.loads((SETTINGS_DIR / "schema.json").read_text()))
_LOOPBACK_NAMES = {"localhost"}


@dataclass(frozen=True)
class Address:
    """A ``host:port`` pair (port 0 = any free port, for tests)."""

    host: str
    port: int

    @classmethod
    def parse(cls, text: str, *, key: str) -> Address:
        """Parse ``host:port``; ``key`` names the setting in the error."""
        host, sep, port = text.strip().rpartition(":")
        if not sep or not host or not port.isdigit() or int(port) > 65535:
            raise InvalidInput(f"{key}: expected host:port, got {text!r}", field=key)
        return cls(host, int(port))

    @property
    def is_loopback(self) -> bool:
        """Whether only this machine can reach the address."""
        if self.host in _LOOPBACK_NAMES:
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class UpstreamSettings:
    """The orchestrator replicas Envoy forwards to (HTTP/2, gRPC health checked)."""

    addresses: tuple[Address, ...] = (Address("127.0.0.1", 50051),)
    connect_timeout_s: float = 1.0
    #: unary RPCs; server streams (WatchRun) have no route timeout, only the idle timeout
    request_timeout_s: float = 30.0
    stream_idle_timeout_s: float = 3600.0
    #: ``grpc.health.v1`` service name to check; "" = the server as a whole
    health_service: str = ""
    health_interval_s: float = 5.0
    health_timeout_s: float = 1.0
    healthy_threshold: int = 1
    unhealthy_threshold: int = 2


@dataclass(frozen=True)
class JwtSettings:
    """Bearer-token checks; exactly one key source must be set once the environment is applied.

    Attributes:
        jwks_url: remote JWKS, fetched asynchronously at start-up and cached (production).
        jwks_file: JWKS on disk, read by Envoy.
        jwks_inline: JWKS JSON text embedded in the config (tests; an HS256 secret becomes one).
        payload_header: request header carrying the verified payload (base64url JSON) upstream;
            the ``Authorization`` header is forwarded as well, the orchestrator verifies it again.
    """

    issuer: str = "ideamine"
    audiences: tuple[str, ...] = ("ideamine-api",)
    jwks_file: str | None = None
    jwks_url: str | None = None
    jwks_inline: str | None = None
    cache_duration_s: float = 600.0
    fetch_timeout_s: float = 5.0
    fetch_retries: int = 3
    clock_skew_s: int = 60
    payload_header: str = "x-jwt-payload"

    @property
    def source(self) -> Literal["file", "url", "inline"]:
        """Which key source is set.

        Raises:
            InvalidInput: none or several are set.
        """
        given = [n for n in ("file", "url", "inline") if getattr(self, f"jwks_{n}")]
        if len(given) != 1:
            raise InvalidInput(
                "jwt: exactly one key source is needed (jwks_url, jwks_file or jwks_inline in the settings, "
                "or IDEAMINE_JWT_JWKS_URL / IDEAMINE_JWT_JWKS_FILE / IDEAMINE_JWT_HS256_SECRET), "
                f"got {len(given)}",
                field="jwt",
            )
        return given[0]  # type: ignore[return-value]


@dataclass(frozen=True)
class RbacSettings:
    """Roles by route: reads for every role, writes for operator and admin, these for admin only."""

    admin_only: tuple[str, ...] = ("ideamine.v1.GateService/WaiveGate",)


@dataclass(frozen=True)
class RateLimitSettings:
    """One token bucket per Envoy instance (``local_ratelimit``), enforced on every request."""

    max_tokens: int = 400
    tokens_per_fill: int = 200
    fill_interval_s: float = 1.0


@dataclass(frozen=True)
class CorsSettings:
    """Browser origins allowed to call the API (exact matches; ``*`` allows any)."""

    allow_origins: tuple[str, ...] = ("http://localhost:3000",)
    max_age_s: int = 600


@dataclass(frozen=True)
class LimitSettings:
    """Body size limits of transcoded REST calls (over → 413)."""

    max_request_bytes: int = 1_048_576
    max_response_bytes: int = 16_777_216


@dataclass(frozen=True)
class GatewaySettings:
    """Everything the Envoy renderer needs; built by :func:`load_settings`."""

    listen: Address = Address("0.0.0.0", 8080)
    #: the admin interface; must be a loopback address
    admin: Address = Address("127.0.0.1", 9901)
    concurrency: int | None = None
    access_log: bool = True
    xff_num_trusted_hops: int = 0
    upstream: UpstreamSettings = field(default_factory=UpstreamSettings)
    jwt: JwtSettings = field(default_factory=JwtSettings)
    rbac: RbacSettings = field(default_factory=RbacSettings)
    rate_limit: RateLimitSettings = field(default_factory=RateLimitSettings)
    cors: CorsSettings = field(default_factory=CorsSettings)
    limits: LimitSettings = field(default_factory=LimitSettings)
    #: how a server stream (WatchRun) reaches REST clients: one JSON object per line, or SSE events
    stream_format: Literal["ndjson", "sse"] = "sse"

    def __post_init__(self) -> None:
        if not self.admin.is_loopback:
            raise InvalidInput(f"admin: {self.admin} is not a loopback address", field="admin")


def settings_file(name: str) -> Path:
    """One of the shipped settings files by name (``default``, ``production``, ``test``)."""
    return SETTINGS_DIR / f"{name}.yaml"


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"cannot read settings file {path}: {exc.strerror}", field="settings") from exc
    except yaml.YAMLError as exc:
        raise InvalidInput(f"settings file {path} is not valid YAML: {exc}", field="settings") from exc
    data = {} if data is None else data
    errors = sorted(_SCHEMA.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        raise InvalidInput(f"settings file {path}: {where}: {err.message}", field=where)
    assert isinstance(data, dict)
    return data


def _section(cls: type[Any], data: Mapping[str, Any], addresses: tuple[str, ...] = ()) -> Any:
    """Build a settings dataclass from its YAML mapping (lists → tuples, addresses parsed)."""
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        if f.name in addresses:
            value = tuple(Address.parse(v, key=f.name) for v in value)
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[f.name] = value
    return cls(**kwargs)


def _from_dict(data: Mapping[str, Any]) -> GatewaySettings:
    kwargs: dict[str, Any] = {
        "upstream": _section(UpstreamSettings, data.get("upstream", {}), addresses=("addresses",)),
        "jwt": _section(JwtSettings, data.get("jwt", {})),
        "rbac": _section(RbacSettings, data.get("rbac", {})),
        "rate_limit": _section(RateLimitSettings, data.get("rate_limit", {})),
        "cors": _section(CorsSettings, data.get("cors", {})),
        "limits": _section(LimitSettings, data.get("limits", {})),
    }
    for key in ("listen", "admin"):
        if key in data:
            kwargs[key] = Address.parse(data[key], key=key)
    for key in ("concurrency", "access_log", "xff_num_trusted_hops", "stream_format"):
        if key in data:
            kwargs[key] = data[key]
    return GatewaySettings(**kwargs)


def hs256_jwks(secret: str) -> str:
    """An inline JWKS holding one symmetric key, so Envoy checks HS256 tokens signed with ``secret``."""
    k = base64.urlsafe_b64encode(secret.encode()).rstrip(b"=").decode()
    return json.dumps({"keys": [{"kty": "oct", "alg": "HS256", "k": k}]})


def _csv(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip())


def _apply_env(settings: GatewaySettings, env: Mapping[str, str]) -> GatewaySettings:
    def get(name: str) -> str:
        return env.get(name, "").strip()

    if addr := get("IDEAMINE_ORCHESTRATOR_ADDR"):
        hosts = tuple(Address.parse(a, key="IDEAMINE_ORCHESTRATOR_ADDR") for a in _csv(addr))
        settings = replace(settings, upstream=replace(settings.upstream, addresses=hosts))
    jwt = settings.jwt
    sources = {
        "jwks_file": get("IDEAMINE_JWT_JWKS_FILE") or None,
        "jwks_url": get("IDEAMINE_JWT_JWKS_URL") or None,
        "jwks_inline": hs256_jwks(get("IDEAMINE_JWT_HS256_SECRET"))
        if get("IDEAMINE_JWT_HS256_SECRET")
        else None,
    }
    given = {k: v for k, v in sources.items() if v}
    if len(given) > 1:
        raise InvalidInput(
            "set only one of IDEAMINE_JWT_JWKS_FILE, IDEAMINE_JWT_JWKS_URL and IDEAMINE_JWT_HS256_SECRET",
            field="IDEAMINE_JWT_JWKS_FILE",
        )
    if given:  # the environment's source replaces the file's
        jwt = replace(
            jwt,
            jwks_file=sources["jwks_file"],
            jwks_url=sources["jwks_url"],
            jwks_inline=sources["jwks_inline"],
        )
    if issuer := get("IDEAMINE_JWT_ISSUER"):
        jwt = replace(jwt, issuer=issuer)
    if audience := _csv(get("IDEAMINE_JWT_AUDIENCE")):
        jwt = replace(jwt, audiences=audience)
    return replace(settings, jwt=jwt)


def _check_jwks(jwt: JwtSettings) -> None:
    source = jwt.source
    if source == "file":
        path = Path(jwt.jwks_file or "")
        if not path.is_file():
            raise InvalidInput(f"jwt.jwks_file: {path} does not exist", field="jwt.jwks_file")
        text = path.read_text(encoding="utf-8")
    elif source == "inline":
        text = jwt.jwks_inline or ""
    else:
        return
    try:
        keys = json.loads(text).get("keys")
    except (ValueError, AttributeError):
        keys = None
    if not isinstance(keys, list) or not keys:
        raise InvalidInput(f"jwt.jwks_{source}: not a JWKS with at least one key", field=f"jwt.jwks_{source}")


def load_settings(path: Path | str | None = None, *, env: Mapping[str, str] | None = None) -> GatewaySettings:
    """Read, validate and complete the gateway settings.

    Args:
        path: a settings file; ``None`` means the shipped ``default.yaml``.
        env: the environment to apply; ``None`` means ``os.environ`` (pass ``{}`` to render
            a file exactly as written, e.g. for the Kubernetes ConfigMap).

    Raises:
        InvalidInput: unreadable or invalid file, bad environment value, no or several JWT
            key sources, an unusable JWKS, a non-loopback admin address.
    """
    file = Path(path) if path is not None else settings_file("default")
    settings = _apply_env(_from_dict(_read(file)), os.environ if env is None else env)
    _check_jwks(settings.jwt)
    return settings
