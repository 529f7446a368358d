"""The gateway: route by path, check tokens, rate-limit, pass request ids, merge OpenAPI."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from gateway_svc.openapi import MergedOpenAPI
from gateway_svc.ratelimit import RateLimiter
from gateway_svc.routing import BULK_ROUTES, route
from gateway_svc.settings import GatewaySettings
from lx_platform.auth import TokenVerifier, optional_principal
from lx_platform.http import problem
from lx_platform.logging import request_id_var
from lx_platform.runtime import create_plain_app

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"

# Headers that describe one hop, not the message; never forwarded (RFC 9110 §7.6.1).
HOP_BY_HOP = {
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
# Response headers the gateway writes itself (or that no longer describe the decoded body).
UPSTREAM_ONLY = {"x-request-id", "content-encoding", "date", "server"}
# Headers clients may not set for themselves: the gateway sets them.
GATEWAY_SET = {"x-request-id", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "forwarded"}

DOCS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Labour Exchange API</title>
<link rel="icon" href="/api/docs/assets/favicon-32x32.png">
<link rel="stylesheet" href="/api/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/api/docs/assets/swagger-ui-bundle.js"></script>
<script src="/api/docs/init.js"></script></body></html>"""


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    client = httpx.AsyncClient(
        timeout=httpx.Timeout(settings.upstream_timeout_s, connect=2.0),
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        follow_redirects=False,
    )
    verifier = TokenVerifier(
        jwks_url=settings.jwks_url, issuer=settings.jwt_issuer, audience=settings.jwt_audience, client=client
    )
    limiter = RateLimiter(per_minute=settings.rate_limit_per_minute, burst=settings.rate_limit_burst)
    openapi = MergedOpenAPI(client, settings.upstreams)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        log.info("gateway started", extra={"port": settings.port})
        try:
            yield
        finally:
            await client.aclose()

    app = create_plain_app(
        name="gateway", log_level=settings.log_level, max_body_bytes=settings.max_body_bytes, lifespan=lifespan
    )
    app.state.token_verifier = verifier
    docs_init_js = (STATIC / "docs-init.js").read_bytes()
    app.mount("/api/docs/assets", StaticFiles(directory=STATIC / "swagger-ui"), name="docs-assets")

    @app.get("/api/openapi.json", include_in_schema=False)
    async def merged_openapi() -> Response:
        return Response(await openapi.document(), media_type="application/json")

    @app.get("/api/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(DOCS_HTML)

    @app.get("/api/docs/init.js", include_in_schema=False)
    async def docs_init() -> Response:
        return Response(docs_init_js, media_type="text/javascript")

    @app.api_route(
        "/{path:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"], include_in_schema=False
    )
    async def proxy(request: Request, path: str) -> Response:
        target = route(request.url.path)
        if target is None:
            return problem(404, "Nothing lives at this address.")
        service, template = target
        request.scope["route_template"] = f"{service}:{template}"
        client_ip = request.client.host if request.client else "unknown"

        # An invalid token is answered here (401) and never reaches a service.
        principal = await optional_principal(request)
        client_key = f"user:{principal.user_id}" if principal else f"ip:{client_ip}"

        wait = limiter.take(client_key)
        if wait:
            return problem(
                429, "Too many requests; slow down a little.", headers={"Retry-After": str(limiter.retry_after(wait))}
            )

        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP | GATEWAY_SET]
        headers += [
            ("x-request-id", request_id_var.get() or ""),
            ("x-forwarded-for", client_ip),
            ("x-forwarded-host", request.headers.get("host", "")),
            ("x-forwarded-proto", request.url.scheme),
        ]
        upstream = settings.upstreams.get(service)
        if upstream is None:
            return problem(503, f"The {service} service is not configured.")
        url = upstream + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        try:
            timeout = settings.bulk_upstream_timeout_s if template in BULK_ROUTES else settings.upstream_timeout_s
            answer = await client.request(
                request.method, url, headers=headers, content=await request.body(), timeout=timeout
            )
        except httpx.TimeoutException:
            log.warning("upstream timed out", extra={"upstream": service})
            return problem(504, f"The {service} service did not answer in time. Try again.")
        except httpx.HTTPError as exc:
            log.warning("upstream unreachable", extra={"upstream": service, "error": type(exc).__name__})
            return problem(
                503, f"The {service} service is not answering. Try again shortly.", headers={"Retry-After": "5"}
            )
        out = Response(content=answer.content, status_code=answer.status_code)
        for key, value in answer.headers.multi_items():
            # httpx has already decoded the body, so its content-encoding no longer applies.
            if key.lower() not in HOP_BY_HOP | UPSTREAM_ONLY:
                out.headers.append(key, value)
        return out

    return app
