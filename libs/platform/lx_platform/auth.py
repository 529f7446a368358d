"""Verify access tokens against identity's JWKS: algorithm, issuer and audience pinned."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from lx_platform.http import ProblemError

log = logging.getLogger(__name__)

ALGORITHM = "EdDSA"
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "jti"]


@dataclass(frozen=True)
class Principal:
    """Who is calling, as the access token says."""

    user_id: uuid.UUID
    roles: frozenset[str] = field(default_factory=frozenset)
    organiser_of: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    def organises(self, constituency_code: str) -> bool:
        return self.is_admin or constituency_code in self.organiser_of


class InvalidToken(Exception):
    pass


class TokenVerifier:
    """Checks tokens with keys fetched from the JWKS URL; refetches at most every 10 s on an unknown kid."""

    def __init__(
        self,
        *,
        jwks_url: str,
        issuer: str,
        audience: str,
        client: httpx.AsyncClient | None = None,
        refetch_interval_s: float = 10.0,
    ) -> None:
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        self._client = client or httpx.AsyncClient(timeout=5.0)
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._refetch_interval_s = refetch_interval_s
        self._lock = asyncio.Lock()

    def add_jwks(self, jwks: dict[str, Any]) -> None:
        """Trust the keys of a JWKS document (also used by identity to verify its own tokens)."""
        for raw in jwks.get("keys", []):
            if raw.get("kty") != "OKP" or raw.get("crv") != "Ed25519" or "kid" not in raw:
                continue
            self._keys[raw["kid"]] = jwt.PyJWK.from_json(json.dumps(raw), algorithm=ALGORITHM)

    async def _refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._fetched_at < self._refetch_interval_s and self._keys:
                return
            self._fetched_at = time.monotonic()
            try:
                response = await self._client.get(self.jwks_url)
                response.raise_for_status()
                self.add_jwks(response.json())
            except (httpx.HTTPError, ValueError) as exc:
                log.warning("could not fetch JWKS", extra={"error": type(exc).__name__})

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("malformed token") from exc
        if header.get("alg") != ALGORITHM:
            raise InvalidToken("algorithm not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise InvalidToken("no key id")
        if kid not in self._keys:
            await self._refresh()
        key = self._keys.get(kid)
        if key is None:
            raise InvalidToken("unknown key")
        try:
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": REQUIRED_CLAIMS},
                leeway=5,
            )
            user_id = uuid.UUID(claims["sub"])
        except (jwt.PyJWTError, ValueError) as exc:
            raise InvalidToken(str(exc)) from exc
        if claims.get("typ") != "access":
            raise InvalidToken("not an access token")
        return Principal(
            user_id=user_id,
            roles=frozenset(claims.get("roles") or []),
            organiser_of=frozenset(claims.get("organiser_of") or []),
        )

    async def aclose(self) -> None:
        await self._client.aclose()


def bearer_token(request: Request) -> str | None:
    value = request.headers.get("authorization")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ProblemError(
            401, "Send the access token as `Authorization: Bearer <token>`.", headers={"WWW-Authenticate": "Bearer"}
        )
    return token.strip()


# Declares bearer auth in OpenAPI; the header itself is parsed below, with our own errors.
bearer_scheme = HTTPBearer(
    auto_error=False, scheme_name="bearer", description="An access token from /api/v1/auth/token"
)
_Bearer = Security(bearer_scheme)


async def optional_principal(request: Request, _: HTTPAuthorizationCredentials | None = _Bearer) -> Principal | None:
    """The caller if a token was sent (an invalid one is a 401), else None."""
    token = bearer_token(request)
    if token is None:
        return None
    # The cache of tokens already verified in front of the verifier, where the app has one (ADR 14).
    verifier = getattr(request.app.state, "verified_tokens", None) or request.app.state.token_verifier
    try:
        principal: Principal = await verifier.verify(token)
        return principal
    except InvalidToken as exc:
        raise ProblemError(
            401,
            "The access token is invalid or expired.",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from exc


async def require_principal(request: Request, _: HTTPAuthorizationCredentials | None = _Bearer) -> Principal:
    """The caller; 401 without a valid token."""
    principal = await optional_principal(request)
    if principal is None:
        raise ProblemError(401, "Sign in first.", headers={"WWW-Authenticate": "Bearer"})
    return principal


async def require_admin(request: Request, _: HTTPAuthorizationCredentials | None = _Bearer) -> Principal:
    principal = await require_principal(request)
    if not principal.is_admin:
        raise ProblemError(403, "Only admins may do this.")
    return principal
