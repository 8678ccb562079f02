"""TokenVerifier remembers a verified token until it expires, and never a refused one."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import jwt
import pytest

from ideamine.errors import Unauthenticated
from orchestrator import auth
from orchestrator.auth import TokenVerifier
from orchestrator.config import JwtSettings

SECRET = "token-cache-test-secret-of-some-length"


def _token(*, exp: float, secret: str = SECRET, sub: str = "ada") -> str:
    claims = {"sub": sub, "tenant": "acme", "roles": ["viewer"], "iss": "ideamine", "aud": "ideamine-api"}
    return jwt.encode({**claims, "exp": int(exp)}, secret, algorithm="HS256")


def _verifier() -> TokenVerifier:
    return TokenVerifier(JwtSettings(hs256_secret=SECRET, leeway_seconds=0))


async def test_a_verified_token_is_not_decoded_again(monkeypatch: pytest.MonkeyPatch) -> None:
    verifier, token = _verifier(), _token(exp=time.time() + 600)
    first = await verifier.verify(token)
    decodes: list[Any] = []
    real = jwt.decode
    monkeypatch.setattr(auth.jwt, "decode", lambda *a, **kw: decodes.append(a) or real(*a, **kw))
    assert await verifier.verify(token) == first and decodes == []
    other = _token(exp=time.time() + 600, sub="grace")  # another token is checked in full
    assert (await verifier.verify(other)).subject == "grace" and len(decodes) == 1


async def test_a_refused_token_stays_refused_and_a_remembered_one_expires() -> None:
    verifier = _verifier()
    forged = _token(exp=time.time() + 600, secret="not-the-secret-the-verifier-knows")
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            await verifier.verify(forged)
    short = _token(exp=time.time() + 1.5)
    await verifier.verify(short)
    await asyncio.sleep(
        max(jwt.decode(short, options={"verify_signature": False})["exp"] - time.time(), 0) + 0.3
    )
    with pytest.raises(Unauthenticated, match="expired"):
        await verifier.verify(short)


async def test_the_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "VERIFIED_CACHE_SIZE", 3)
    verifier = _verifier()
    for n in range(5):
        await verifier.verify(_token(exp=time.time() + 600, sub=f"user-{n}"))
    assert [p.subject for p, _ in verifier._verified.values()] == ["user-2", "user-3", "user-4"]
