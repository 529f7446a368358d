"""Access tokens remembered as verified (lx_platform.verified_tokens, in front of the gateway's verifier and every
service's): until they expire, never when invalid, and a bounded number."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lx_platform.auth import InvalidToken, Principal, TokenVerifier
from lx_platform.verified_tokens import VerifiedTokens, expires_at

pytestmark = pytest.mark.unit


class CountingVerifier(TokenVerifier):
    """The real verifier, counting the signature checks it makes."""

    def __init__(self, issuer: Any) -> None:
        super().__init__(jwks_url="http://127.0.0.1:9/unused", issuer="labour-exchange", audience="labour-exchange-api")
        self.add_jwks(issuer.jwks())
        self.checks = 0

    async def verify(self, token: str) -> Principal:
        self.checks += 1
        return await super().verify(token)


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def signed(issuer: Any, key: Ed25519PrivateKey | None = None, **claims: Any) -> str:
    now = int(time.time())
    body = {
        "iss": "labour-exchange",
        "aud": "labour-exchange-api",
        "sub": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        "typ": "access",
        **claims,
    }
    return jwt.encode(body, key or issuer.key, algorithm="EdDSA", headers={"kid": issuer.kid})


async def test_a_token_is_checked_once_and_remembered_until_it_expires(issuer: Any) -> None:
    verifier, clock = CountingVerifier(issuer), Clock()
    tokens = VerifiedTokens(verifier, clock=clock)
    user = uuid.uuid4()
    token = signed(issuer, sub=str(user), exp=int(clock.now) + 60, roles=["organiser"])
    first = await tokens.verify(token)
    assert first.user_id == user and first.roles == {"organiser"}
    assert await tokens.verify(token) == first
    assert verifier.checks == 1
    assert expires_at(token) == int(clock.now) + 60

    clock.now += 61  # past its exp by the cache's clock: not trusted any more, checked again
    await tokens.verify(token)  # (the verifier's own clock is the real one, so it still passes)
    assert verifier.checks == 2


async def test_invalid_tokens_are_never_remembered(issuer: Any) -> None:
    verifier = CountingVerifier(issuer)
    tokens = VerifiedTokens(verifier)
    forged = signed(issuer, Ed25519PrivateKey.generate())  # the trusted key's id, another key
    for _ in range(2):
        with pytest.raises(InvalidToken):
            await tokens.verify(forged)
    assert verifier.checks == 2
    assert len(tokens) == 0
    tampered = signed(issuer)
    head, payload, signature = tampered.split(".")
    with pytest.raises(InvalidToken):
        await tokens.verify(f"{head}.{payload}.{signature[:-2]}AA")
    assert len(tokens) == 0


async def test_past_the_bound_the_least_recently_used_is_forgotten(issuer: Any) -> None:
    verifier = CountingVerifier(issuer)
    tokens = VerifiedTokens(verifier, max_entries=2)
    a, b, c = signed(issuer), signed(issuer), signed(issuer)
    await tokens.verify(a)
    await tokens.verify(b)
    await tokens.verify(a)  # a is now the most recently used
    await tokens.verify(c)  # b goes
    assert len(tokens) == 2
    verifier.checks = 0
    await tokens.verify(a)
    await tokens.verify(c)
    assert verifier.checks == 0
    await tokens.verify(b)
    assert verifier.checks == 1
