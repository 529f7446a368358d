"""Installing the site as an app: the web app manifest, the service worker (served from the root so it may
control every page) and the page it shows when there is no connection."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse, Response

router = APIRouter()
STATIC = Path(__file__).resolve().parent / "static"
THEME = "#a4061d"

MANIFEST = {
    "name": "Labour Exchange",
    "short_name": "LX",
    "description": "Put your skills where they count: the campaign's requests for help, and people who offer it.",
    "start_url": "/",
    "scope": "/",
    "display": "standalone",
    "background_color": "#ffffff",
    "theme_color": THEME,
    "lang": "en-GB",
    "icons": [
        {"src": "/static/icons/icon-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any"},
        {"src": "/static/icons/icon-512.png", "sizes": "512x512", "type": "image/png", "purpose": "any"},
        {"src": "/static/icons/maskable-192.png", "sizes": "192x192", "type": "image/png", "purpose": "maskable"},
        {"src": "/static/icons/maskable-512.png", "sizes": "512x512", "type": "image/png", "purpose": "maskable"},
    ],
}


@router.get("/manifest.webmanifest", include_in_schema=False)
async def manifest() -> Response:
    return JSONResponse(
        MANIFEST, media_type="application/manifest+json", headers={"Cache-Control": "public, max-age=3600"}
    )


@router.get("/sw.js", include_in_schema=False)
async def service_worker() -> Response:
    # Never cached by HTTP, so a new worker is picked up on the next visit.
    return FileResponse(
        STATIC / "sw.js",
        media_type="text/javascript",
        headers={"Service-Worker-Allowed": "/", "Cache-Control": "no-cache"},
    )


@router.get("/offline", include_in_schema=False)
async def offline() -> Response:
    return FileResponse(STATIC / "offline.html", media_type="text/html", headers={"Cache-Control": "no-cache"})
