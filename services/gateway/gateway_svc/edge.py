"""Rules at the edge of every request: URL and header size limits, CORS, security headers.

The proxy marks a response it relays from the web service (`scope["lx_upstream"] == "web"`):
pages carry the web service's own headers and get only HSTS here. Everything else (the API, the
gateway's own answers) gets the API headers unless the upstream already set them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lx_platform.http import accepted_request_id, problem
from lx_platform.logging import request_id_var

CORS_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
CORS_REQUEST_HEADERS = ("authorization", "content-type", "accept", "accept-language", "x-request-id")
CORS_EXPOSED_HEADERS = (
    "X-Request-ID",
    "Retry-After",
    "Location",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
)
CORS_MAX_AGE_S = 600

API_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)


@dataclass(frozen=True)
class EdgePolicy:
    allowed_origins: frozenset[str]
    https: bool = False
    hsts_max_age_s: int = 31_536_000
    max_url_bytes: int = 4096
    max_header_bytes: int = 16_384

    @classmethod
    def build(
        cls,
        *,
        public_origin: str,
        cors_origins: Iterable[str],
        hsts_max_age_s: int = 31_536_000,
        max_url_bytes: int = 4096,
        max_header_bytes: int = 16_384,
    ) -> EdgePolicy:
        own = public_origin.strip().rstrip("/").lower()
        return cls(
            allowed_origins=frozenset({own, *(o.strip().rstrip("/").lower() for o in cors_origins)}),
            https=own.startswith("https://"),
            hsts_max_age_s=hsts_max_age_s,
            max_url_bytes=max_url_bytes,
            max_header_bytes=max_header_bytes,
        )

    def origin_allowed(self, origin: str | None) -> bool:
        return origin is not None and origin.lower() in self.allowed_origins

    def preflight_refusal(self, origin: str | None, method: str, request_headers: str) -> str | None:
        """Why a CORS preflight is refused, or None if it is allowed."""
        if not self.origin_allowed(origin):
            return "This origin may not call the API from a browser."
        if method.upper() not in CORS_METHODS:
            return f"The method {method} is not allowed across origins."
        asked = [h.strip().lower() for h in request_headers.split(",") if h.strip()]
        refused = [h for h in asked if h not in CORS_REQUEST_HEADERS]
        if refused:
            return f"These headers are not allowed across origins: {', '.join(refused)}."
        return None

    def cors_headers(self, origin: str) -> list[tuple[bytes, bytes]]:
        return [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-credentials", b"true"),
            (b"access-control-expose-headers", ", ".join(CORS_EXPOSED_HEADERS).encode()),
        ]

    def preflight_headers(self, origin: str) -> list[tuple[bytes, bytes]]:
        return [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-credentials", b"true"),
            (b"access-control-allow-methods", ", ".join(CORS_METHODS).encode()),
            (b"access-control-allow-headers", ", ".join(CORS_REQUEST_HEADERS).encode()),
            (b"access-control-max-age", str(CORS_MAX_AGE_S).encode()),
            (b"vary", b"Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
        ]

    def response_headers(
        self,
        headers: list[tuple[bytes, bytes]],
        *,
        origin: str | None,
        from_web: bool,
        authenticated: bool,
    ) -> list[tuple[bytes, bytes]]:
        """The response's headers with the edge's rules applied; an upstream's own header wins."""
        # CORS is the gateway's alone: what an upstream says about it is dropped.
        out = [(k, v) for k, v in headers if not k.lower().startswith(b"access-control-")]
        present = {k.lower() for k, _ in out}

        def default(name: bytes, value: bytes) -> None:
            if name not in present:
                out.append((name, value))
                present.add(name)

        if self.origin_allowed(origin):
            assert origin is not None
            out += self.cors_headers(origin)
        if not from_web or self.origin_allowed(origin):
            _append_vary(out, b"Origin")
        if not from_web:
            for name, value in API_HEADERS:
                default(name, value)
            if authenticated:
                default(b"cache-control", b"no-store")
        if self.https:
            default(b"strict-transport-security", f"max-age={self.hsts_max_age_s}; includeSubDomains".encode())
        return out


def _append_vary(headers: list[tuple[bytes, bytes]], name: bytes) -> None:
    for i, (key, value) in enumerate(headers):
        if key.lower() == b"vary":
            if name.lower() not in [v.strip().lower() for v in value.split(b",")] and value.strip() != b"*":
                headers[i] = (key, value + b", " + name)
            return
    headers.append((b"vary", name))


class EdgeMiddleware:
    """Outermost: refuses oversized URLs (414) and headers (431), answers CORS preflights, and
    applies the response header rules to every answer, the gateway's own errors included."""

    def __init__(self, app: ASGIApp, *, policy: EdgePolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = self.policy
        raw = scope.get("headers") or []
        origin = _header(raw, b"origin")
        authenticated = _header(raw, b"authorization") is not None

        async def send_with_rules(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = policy.response_headers(
                    list(message.get("headers") or []),
                    origin=origin,
                    from_web=scope.get("lx_upstream") == "web",
                    authenticated=authenticated,
                )
            await send(message)

        url_bytes = len(scope.get("raw_path") or scope["path"].encode()) + len(scope.get("query_string") or b"")
        if url_bytes > policy.max_url_bytes:
            await _answer(scope, send_with_rules, 414, f"Addresses are limited to {policy.max_url_bytes:,} bytes.")
            return
        if sum(len(k) + len(v) + 4 for k, v in raw) > policy.max_header_bytes:
            await _answer(
                scope, send_with_rules, 431, f"Request headers are limited to {policy.max_header_bytes:,} bytes."
            )
            return
        wanted_method = _header(raw, b"access-control-request-method")
        if scope["method"] == "OPTIONS" and origin is not None and wanted_method is not None:
            refusal = policy.preflight_refusal(
                origin, wanted_method, _header(raw, b"access-control-request-headers") or ""
            )
            if refusal is not None:
                await _answer(scope, send_with_rules, 403, refusal)
                return
            await send({"type": "http.response.start", "status": 204, "headers": policy.preflight_headers(origin)})
            await send({"type": "http.response.body", "body": b""})
            return
        await self.app(scope, receive, send_with_rules)


def _header(raw: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in raw:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


_TITLES = {414: "URI too long", 431: "Request header fields too large"}


async def _answer(scope: Scope, send: Send, status: int, detail: str) -> None:
    """A problem+json answer of the edge's own, before the request-id middleware has run."""
    rid = accepted_request_id(_header(scope.get("headers") or [], b"x-request-id"))
    token = request_id_var.set(rid)
    try:
        response = problem(status, detail, title=_TITLES.get(status))
    finally:
        request_id_var.reset(token)
    headers = [(k.encode(), v.encode()) for k, v in response.headers.items()]
    headers.append((b"x-request-id", rid.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})
