"""Composition root for the web client. The pages arrive with their own issue; until then the
home page says what works today and where the API lives."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from lx_platform.runtime import create_plain_app
from web_svc.settings import WebSettings

HOME = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Labour Exchange</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem">
<h1>Labour Exchange</h1>
<p>Put your skills where they count for the campaign.</p>
<p>The web pages are on their way. The API already works: create an account, sign in and read your
profile from the <a href="/api/docs">API documentation</a>.</p>
</body></html>"""


def create_app(settings: WebSettings | None = None) -> FastAPI:
    settings = settings or WebSettings()
    app = create_plain_app(name="web", log_level=settings.log_level, max_body_bytes=settings.max_body_bytes)

    @app.get("/", response_class=HTMLResponse)
    async def home() -> str:
        return HOME

    return app
