"""Composition root for the web client: server-rendered pages over the public API, through the gateway."""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from lx_platform.runtime import create_plain_app
from web_svc import (
    pages_access_log,
    pages_account,
    pages_admin,
    pages_me,
    pages_organise,
    pages_profile,
    pages_requests,
    pwa,
)
from web_svc.apiclient import ApiClient, ApiUnavailable
from web_svc.session import CsrfRejected, Session, SignInNeeded, login_url
from web_svc.settings import WebSettings
from web_svc.views import Reference, Views, make_environment

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
# Paths that are not pages: no session cookie, no per-person caching rules.
_NOT_PAGES = ("/static/", "/healthz", "/readyz", "/metrics", "/sw.js", "/manifest.webmanifest", "/offline")


def session_key(settings: WebSettings) -> bytes:
    if settings.session_key is not None:
        value = settings.session_key.get_secret_value()
        if len(value) < 32:
            raise ValueError("WEB_SESSION_KEY must be at least 32 characters")
        return value.encode()
    log.warning("WEB_SESSION_KEY is not set: using a random key for this process (development only)")
    return secrets.token_bytes(32)


def create_app(settings: WebSettings | None = None) -> FastAPI:
    settings = settings or WebSettings()
    api = ApiClient(
        base_url=settings.api_base_url,
        timeout_s=settings.api_timeout_s,
        proxy_key=settings.gateway_proxy_key.get_secret_value() if settings.gateway_proxy_key else None,
    )
    key = session_key(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        log.info("web started", extra={"port": settings.port})
        try:
            yield
        finally:
            await api.aclose()

    app = create_plain_app(
        name="web", log_level=settings.log_level, max_body_bytes=settings.max_body_bytes, lifespan=lifespan
    )
    views = Views(make_environment(settings.time_zone), Reference(api))
    app.state.views = views
    app.state.api = api
    app.state.cookie_secure = settings.cookie_secure
    app.state.time_zone = settings.time_zone
    app.state.terms_known = pages_me.TermsKnown()
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.middleware("http")
    async def web_session(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        page = not request.url.path.startswith(_NOT_PAGES)
        session = Session(
            request, api=api, key=key, secure=settings.cookie_secure, refresh_margin_s=settings.refresh_margin_s
        )
        request.state.session = session
        try:
            if page and await pages_me.terms_pending(request, session):
                response: Response = RedirectResponse("/me/terms", status_code=303)
            else:
                response = await call_next(request)
        except Exception:
            log.exception("page failed", extra={"path": request.url.path})
            response = views.render(
                request,
                "error.html",
                status=500,
                title="Something went wrong",
                message="Something went wrong on our side. It has been logged; please try again.",
            )
        if page:
            session.apply(response)
            response.headers.setdefault("Cache-Control", "no-store")
        for name, value in SECURITY_HEADERS.items():
            response.headers[name] = value
        return response

    @app.exception_handler(CsrfRejected)
    async def csrf_rejected(request: Request, _: CsrfRejected) -> Response:
        return views.render(
            request,
            "error.html",
            status=403,
            title="This form has expired",
            message="For your safety we could not accept that form. Go back, reload the page and try again.",
        )

    @app.exception_handler(SignInNeeded)
    async def sign_in_needed(_: Request, exc: SignInNeeded) -> Response:
        return RedirectResponse(login_url(exc.next_path), status_code=303)

    @app.exception_handler(ApiUnavailable)
    async def api_unavailable(request: Request, _: ApiUnavailable) -> Response:
        response = views.render(
            request,
            "error.html",
            status=503,
            title="Service busy",
            message="The service is not answering just now. Please try again in a minute.",
        )
        response.headers["Retry-After"] = "30"
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        titles = {404: "Page not found", 405: "Not allowed here"}
        messages = {
            404: "There is nothing at this address. It may have been moved or deleted.",
            405: "This page cannot be used that way.",
        }
        return views.render(
            request,
            "error.html",
            status=exc.status_code,
            title=titles.get(exc.status_code, "Something went wrong"),
            message=messages.get(exc.status_code, "Please go back and try again."),
        )

    app.include_router(pages_requests.router)
    app.include_router(pages_account.router)
    app.include_router(pages_me.router)  # before pages_profile: /me/terms, /me/account are not the profile
    app.include_router(pages_profile.router)
    app.include_router(pages_organise.router)
    app.include_router(pages_admin.router)
    app.include_router(pages_access_log.router)
    app.include_router(pwa.router)
    return app
