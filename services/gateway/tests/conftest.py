"""Helpers for the gateway's tests: small real HTTP upstreams on loopback, and a gateway built in-process."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gateway_svc.app import create_app
from gateway_svc.settings import GatewaySettings
from lx_devstack.testkit import serving

SERVICES = ("identity", "skills", "requests", "matcher", "twitter-gateway", "web")


@dataclass
class Upstream:
    """What the upstream does; the test changes it while the server runs."""

    delay_s: float = 0.0
    seen: list[dict[str, str]] = field(default_factory=list)


def upstream_app(state: Upstream) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def echo(request: Request, path: str) -> JSONResponse:
        headers = dict(request.headers)
        state.seen.append(headers)
        if state.delay_s:
            await asyncio.sleep(state.delay_s)  # the upstream being slow, not the test waiting
        extra = {k[len("x-answer-") :]: v for k, v in request.headers.items() if k.startswith("x-answer-")}
        return JSONResponse({"path": "/" + path, "headers": headers}, headers=extra)

    return app


@asynccontextmanager
async def running_upstream() -> AsyncIterator[tuple[str, Upstream]]:
    state = Upstream()
    async with serving(upstream_app(state)) as url:
        yield url, state


class TokenIssuer:
    """Signs access tokens the way identity does, with a key of its own (the gateway is told to trust it)."""

    kid = "test-key"

    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()

    def jwks(self) -> dict[str, Any]:
        raw = {
            "kty": "OKP",
            "crv": "Ed25519",
            "kid": self.kid,
            "x": jwt.utils.base64url_encode(self.key.public_key().public_bytes_raw()).decode(),
        }
        return {"keys": [raw]}

    def token(self, user_id: uuid.UUID | None = None) -> str:
        now = int(time.time())
        claims = {
            "iss": "labour-exchange",
            "aud": "labour-exchange-api",
            "sub": str(user_id or uuid.uuid4()),
            "iat": now,
            "exp": now + 600,
            "jti": uuid.uuid4().hex,
            "typ": "access",
            "roles": ["supporter"],
        }
        return jwt.encode(claims, self.key, algorithm="EdDSA", headers={"kid": self.kid})


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[str, Upstream]]:
    """A small real HTTP server on loopback that echoes what it received; `delay_s` makes it slow."""
    async with running_upstream() as served:
        yield served


@pytest.fixture
async def other_upstream() -> AsyncIterator[tuple[str, Upstream]]:
    async with running_upstream() as served:
        yield served


@pytest.fixture
def issuer() -> TokenIssuer:
    return TokenIssuer()


@pytest.fixture
def make_gateway(issuer: TokenIssuer) -> Any:
    """Build a gateway app in-process whose upstreams are all `url` unless `upstreams` says otherwise,
    trusting the test issuer's tokens."""

    def build(url: str, **overrides: Any) -> FastAPI:
        upstreams = {**dict.fromkeys(SERVICES, url), **overrides.pop("upstreams", {})}
        app = create_app(GatewaySettings(upstreams=upstreams, jwks_url="http://127.0.0.1:9/unused", **overrides))
        app.state.token_verifier.add_jwks(issuer.jwks())
        return app

    return build
