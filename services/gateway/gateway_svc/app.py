"""The gateway: route by path, check tokens, rate-limit, pass request ids, merge OpenAPI."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import quote

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway_svc import metrics
from gateway_svc.breaker import CircuitBreaker, State
from gateway_svc.bulkhead import Bulkhead
from gateway_svc.clientaddr import ClientAddresses, bucket_key, parse_address
from gateway_svc.denylist import ErasedUsers
from gateway_svc.edge import EdgeMiddleware, EdgePolicy
from gateway_svc.erasures import ErasureFeed
from gateway_svc.openapi import MergedOpenAPI
from gateway_svc.ratelimit import Decision, RateLimiter
from gateway_svc.routing import BULK_ROUTES, route
from gateway_svc.settings import GatewaySettings
from gateway_svc.upstream import UpstreamClients, UpstreamFailed
from lx_contracts.topics import USER_ERASED
from lx_platform.auth import Principal, TokenVerifier, optional_principal
from lx_platform.http import ProblemError, problem
from lx_platform.kafka_security import aiokafka_kwargs
from lx_platform.logging import request_id_var
from lx_platform.runtime import create_plain_app
from lx_platform.verified_tokens import VerifiedTokens

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"

# Headers that describe one hop, not the message; never forwarded (RFC 9110 §7.6.1).
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
# Response headers the gateway writes itself (or that no longer describe the decoded body).
UPSTREAM_ONLY = frozenset({"x-request-id", "content-encoding", "date", "server"})
# Headers clients may not set for themselves: the gateway sets them (or, the proxy key, keeps them).
PROXY_KEY_HEADER = "x-lx-proxy-key"
GATEWAY_SET = frozenset(
    {
        "x-request-id",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
        "forwarded",
        PROXY_KEY_HEADER,
    }
)
# Request headers never passed on, and response headers never passed back, as raw lower-case bytes.
_NOT_FORWARDED = frozenset(h.encode() for h in HOP_BY_HOP | GATEWAY_SET)
_NOT_RETURNED = frozenset(h.encode() for h in HOP_BY_HOP | UPSTREAM_ONLY)

DOCS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Labour Exchange API</title>
<link rel="icon" href="/api/docs/assets/favicon-32x32.png">
<link rel="stylesheet" href="/api/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/api/docs/assets/swagger-ui-bundle.js"></script>
<script src="/api/docs/init.js"></script></body></html>"""
# Everything the docs page needs is served from this origin; Swagger UI's icons are data: URIs.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()

    # The gateway's own calls (signing keys, API descriptions) have a client of their own; the calls
    # it passes on go through a session per upstream (gateway_svc/upstream.py).
    client = httpx.AsyncClient(
        timeout=httpx.Timeout(settings.upstream_timeout_s, connect=settings.upstream_connect_timeout_s),
        limits=httpx.Limits(max_connections=8, max_keepalive_connections=8, keepalive_expiry=4.0),
        follow_redirects=False,
    )
    upstream_clients = UpstreamClients(settings.upstreams)
    verifier = TokenVerifier(
        jwks_url=settings.jwks_url, issuer=settings.jwt_issuer, audience=settings.jwt_audience, client=client
    )
    tokens = VerifiedTokens(verifier, max_entries=settings.verified_tokens_max)
    metrics.VERIFIED_TOKENS.set_function(lambda: len(tokens))
    by_address = RateLimiter(
        per_minute=settings.rate_limit_per_minute,
        burst=settings.rate_limit_burst,
        max_clients=settings.rate_limit_max_clients,
    )
    by_user = RateLimiter(
        per_minute=settings.user_rate_limit_per_minute,
        burst=settings.user_rate_limit_burst,
        max_clients=settings.rate_limit_max_clients,
    )
    metrics.RATE_BUCKETS.labels("address").set_function(lambda: len(by_address))
    metrics.RATE_BUCKETS.labels("user").set_function(lambda: len(by_user))
    addresses = ClientAddresses(trusted_proxies=settings.trusted_proxies, proxy_keys=settings.proxy_key_list())

    def breaker_changed(name: str, state: State) -> None:
        metrics.BREAKER_STATE.labels(name).set(int(state))
        if state is State.OPEN:
            metrics.BREAKER_OPENED.labels(name).inc()
            log.warning("upstream breaker opened", extra={"upstream": name})
        else:
            log.info("upstream breaker state", extra={"upstream": name, "state": state.name.lower()})

    breakers = {
        name: CircuitBreaker(
            name,
            failure_threshold=settings.breaker_failure_threshold,
            cooldown_s=settings.breaker_cooldown_s,
            on_change=breaker_changed,
        )
        for name in settings.upstreams
    }
    for name in breakers:
        metrics.BREAKER_STATE.labels(name).set(0)
    # At most upstream_max_in_flight calls to each upstream: the excess is refused at once rather than
    # queued. This is also the bound on each upstream's connections in use (its session has no other).
    bulkheads = {name: Bulkhead(name, limit=settings.upstream_max_in_flight) for name in settings.upstreams}
    for name, bulkhead in bulkheads.items():
        metrics.UPSTREAM_IN_FLIGHT.labels(name).set_function(lambda b=bulkhead: b.in_flight)
    openapi = MergedOpenAPI(client, settings.upstreams)
    # Tokens of erased people stay refused until they would have expired anyway (+1 minute of skew).
    erased = ErasedUsers(keep_s=settings.access_token_ttl_s + 60, max_entries=settings.erased_users_max)
    metrics.ERASED_USERS.set_function(lambda: len(erased))
    feed = ErasureFeed(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        topic=USER_ERASED.name,
        erased=erased,
        security=aiokafka_kwargs(settings),
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        following = asyncio.create_task(feed.run(stop), name="erasure-feed")
        # Read the erasures made before this start, but never hold start-up (and readiness) for long.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(feed.caught_up.wait(), timeout=settings.erasure_catch_up_wait_s)
        if not feed.caught_up.is_set():
            log.warning("started before reading every erasure; still reading")
        metrics.ERASURE_FEED_CAUGHT_UP.set_function(lambda: int(feed.caught_up.is_set()))
        log.info("gateway started", extra={"port": settings.port})
        try:
            yield
        finally:
            stop.set()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(following, timeout=5)
            await client.aclose()
            await upstream_clients.aclose()

    app = create_plain_app(
        name="gateway", log_level=settings.log_level, max_body_bytes=settings.max_body_bytes, lifespan=lifespan
    )
    # Outermost, so its rules also cover the request-id middleware's own answers (413).
    app.add_middleware(
        EdgeMiddleware,
        policy=EdgePolicy.build(
            public_origin=settings.public_origin,
            cors_origins=settings.cors_origins,
            hsts_max_age_s=settings.hsts_max_age_s,
            max_url_bytes=settings.max_url_bytes,
            max_header_bytes=settings.max_header_bytes,
        ),
    )
    app.state.token_verifier = verifier
    app.state.verified_tokens = tokens
    app.state.breakers = breakers
    app.state.upstream_clients = upstream_clients
    app.state.rate_limiters = {"address": by_address, "user": by_user}
    app.state.erased_users = erased
    app.state.erasure_feed = feed
    docs_init_js = (STATIC / "docs-init.js").read_bytes()
    app.mount("/api/docs/assets", StaticFiles(directory=STATIC / "swagger-ui"), name="docs-assets")

    @app.get("/api/openapi.json", include_in_schema=False)
    async def merged_openapi() -> Response:
        return Response(await openapi.document(), media_type="application/json")

    @app.get("/api/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(DOCS_HTML, headers={"Content-Security-Policy": DOCS_CSP})

    @app.get("/api/docs/init.js", include_in_schema=False)
    async def docs_init() -> Response:
        return Response(docs_init_js, media_type="text/javascript")

    def client_address(request: Request) -> str:
        peer = request.client.host if request.client else "unknown"
        presented = request.headers.get(PROXY_KEY_HEADER)
        vouched = addresses.vouched(presented)
        if presented and not vouched:
            metrics.UNTRUSTED_PROXY_KEY.inc()
        return addresses.resolve(peer, request.headers.getlist("x-forwarded-for"), peer_vouched=vouched)

    def original_scheme(request: Request) -> str:
        """https when a trusted load balancer in front says it took the request over TLS."""
        peer = parse_address(request.client.host) if request.client else None
        if peer is not None and addresses.is_trusted(peer):
            said = request.headers.get("x-forwarded-proto", "").split(",")[-1].strip().lower()
            if said in ("http", "https"):
                return said
        return request.url.scheme

    def too_many(decision: Decision, scope: str) -> Response:
        metrics.RATE_LIMITED.labels(scope).inc()
        return problem(429, "Too many requests; slow down a little.", headers=decision.headers())

    def busy(service: str) -> Response:
        return problem(
            503,
            f"The gateway is busy with calls to the {service} service. Try again in a moment.",
            headers={"Retry-After": "1"},
        )

    async def forward(request: Request) -> Response:
        target = route(request.url.path)
        if target is None:
            return problem(404, "Nothing lives at this address.")
        service, template = target
        request.scope["route_template"] = f"{service}:{template}"
        client_ip = client_address(request)

        # An invalid token is answered here (401) and never reaches a service. Requests without a
        # valid token count against their address, so a flood of made-up tokens is limited too.
        principal: Principal | None
        try:
            principal = await optional_principal(request)
        except ProblemError:
            decision = by_address.take(bucket_key(client_ip, ipv6_prefix=settings.rate_limit_ipv6_prefix))
            if not decision.allowed:
                return too_many(decision, "address")
            raise
        if principal is not None and principal.user_id in erased:
            # The person erased their account: their token is as good as expired. Counted like any
            # refused token, against the address.
            metrics.ERASED_TOKEN_REFUSED.inc()
            decision = by_address.take(bucket_key(client_ip, ipv6_prefix=settings.rate_limit_ipv6_prefix))
            if not decision.allowed:
                return too_many(decision, "address")
            return problem(
                401,
                "The access token is invalid or expired.",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        if principal is not None:
            decision, scope = by_user.take(str(principal.user_id)), "user"
        else:
            decision = by_address.take(bucket_key(client_ip, ipv6_prefix=settings.rate_limit_ipv6_prefix))
            scope = "address"
        if not decision.allowed:
            return too_many(decision, scope)

        upstream = settings.upstreams.get(service)
        if upstream is None:
            return problem(503, f"The {service} service is not configured.")
        breaker = breakers[service]
        if wait := breaker.allow():
            metrics.BREAKER_REFUSED.labels(service).inc()
            return problem(
                503,
                f"The {service} service is not answering. Try again shortly.",
                headers={"Retry-After": str(wait)},
            )

        # ASGI header names are lower-case bytes.
        headers = [
            (k.decode("latin-1"), v.decode("latin-1")) for k, v in request.scope["headers"] if k not in _NOT_FORWARDED
        ]
        headers += [
            ("x-request-id", request_id_var.get() or ""),
            ("x-forwarded-for", client_ip),
            ("x-forwarded-host", request.headers.get("host", "")),
            ("x-forwarded-proto", original_scheme(request)),
        ]
        # The path as routed, percent-encoded again: a decoded path can hold characters (controls, spaces)
        # that are not allowed in a URL, and the service must see the path the gateway routed.
        path = quote(request.url.path, safe="/:@!$&'()*+,;=")
        url = upstream + path + (f"?{request.url.query}" if request.url.query else "")
        connect_s, read_s = settings.timeout_for(service, bulk=template in BULK_ROUTES)
        try:
            # Read before taking a place, so a slow upload never holds one of the upstream's places.
            body = await request.body()
        except BaseException:
            breaker.abandon()  # the client left, or the body was too large: no word on the upstream
            raise
        bulkhead = bulkheads[service]
        if not bulkhead.try_enter():
            # The gateway's own congestion: answered at once, and no word on the upstream's health.
            breaker.abandon()
            metrics.UPSTREAM_BUSY.labels(service).inc()
            return busy(service)
        verdict = False
        try:
            answer = await upstream_clients.call(
                service, request.method, url, headers=headers, body=body, connect_s=connect_s, read_s=read_s
            )
            verdict = True
            breaker.success()
        except UpstreamFailed as exc:
            verdict = True
            breaker.failure()
            metrics.UPSTREAM_FAILURES.labels(service, exc.kind).inc()
            if exc.timed_out:
                log.warning("upstream timed out", extra={"upstream": service, "kind": exc.kind})
                return problem(504, f"The {service} service did not answer in time. Try again.")
            log.warning("upstream unreachable", extra={"upstream": service, "error": exc.error})
            return problem(
                503, f"The {service} service is not answering. Try again shortly.", headers={"Retry-After": "5"}
            )
        finally:
            bulkhead.leave()
            if not verdict:
                # Cancelled (the client left) or the gateway was busy: no word on the upstream.
                breaker.abandon()
        request.scope["lx_upstream"] = service
        out = Response(content=answer.body, status_code=answer.status)
        # The body is already decoded, so the upstream's content-encoding no longer applies.
        out.raw_headers.extend((k.lower(), v) for k, v in answer.headers if k.lower() not in _NOT_RETURNED)
        for key, value in decision.headers().items():
            out.headers[key] = value
        return out

    # Paths of the gateway's own routes go through FastAPI's routing (so do methods they do not allow);
    # every other call goes straight to `forward`, which is the most of the gateway's work.
    @app.api_route(
        "/{path:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"], include_in_schema=False
    )
    async def proxy(request: Request, path: str) -> Response:
        return await forward(request)

    own_paths = frozenset({"/api/openapi.json", "/api/docs", "/api/docs/init.js", "/healthz", "/readyz", "/metrics"})
    # Innermost of the middleware (inside the request ids, limits and edge rules), outside FastAPI's routing.
    app.user_middleware.append(
        Middleware(
            ProxyFirst,
            forward=forward,
            own=lambda path: path in own_paths or path.startswith("/api/docs/assets/"),
        )
    )
    return app


class ProxyFirst:
    """Hands the calls the gateway passes on to `forward` without FastAPI's routing, dependency
    resolution and exception middleware (about a quarter of the gateway's CPU per call); a
    ProblemError (a refused token) is answered as FastAPI's handler would."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        forward: Callable[[Request], Awaitable[Response]],
        own: Callable[[str], bool],
    ) -> None:
        self.app = app
        self.forward = forward
        self.own = own

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.own(scope["path"]):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive, send)
        try:
            response = await self.forward(request)
        except ProblemError as exc:
            response = problem(exc.status, exc.detail, title=exc.title, errors=exc.errors, headers=exc.headers)
        await response(scope, receive, send)
