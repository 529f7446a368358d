"""The consent wording people agree to, as identity serves it (GET /api/v1/consents/wording)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import Request

from web_svc.apiclient import ApiUnavailable
from web_svc.views import session_of

# The wording changes rarely and only with a release of identity: five minutes of staleness is harmless.
CACHE_S = 300.0


def _parse(body: Any) -> dict[str, dict[str, str]]:
    items = body.get("items") if isinstance(body, dict) else None
    found: dict[str, dict[str, str]] = {}
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and all(isinstance(item.get(k), str) for k in ("purpose", "version", "text")):
            found[item["purpose"]] = {"version": item["version"], "text": item["text"]}
    return found


async def consent_wording(request: Request) -> dict[str, dict[str, str]]:
    """Purpose to `{version, text}`; empty (the pages then show their own short hints) when the API cannot say."""
    cached: tuple[float, dict[str, dict[str, str]]] | None = getattr(request.app.state, "consent_wording", None)
    now = time.monotonic()
    if cached is not None and now - cached[0] < CACHE_S:
        return cached[1]
    try:
        result = await session_of(request).call("GET", "/api/v1/consents/wording", auth=False)
    except ApiUnavailable:
        return cached[1] if cached else {}
    wording = _parse(result.body) if result.ok else {}
    if wording:
        request.app.state.consent_wording = (now, wording)
    return wording or (cached[1] if cached else {})
