"""Pages about requests: home, browse, ask for help, one request (offers, matches), my offers, for you."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from web_svc.views import session_of, views_of

router = APIRouter()

STATUSES = [
    ("open", "Open"),
    ("filled", "Filled"),
    ("completed", "Completed"),
    ("cancelled", "Cancelled"),
    ("any", "Any status"),
]
URGENCIES = [("low", "Low"), ("normal", "Normal"), ("high", "High")]
LEVELS = [
    (1, "1 – beginner"),
    (2, "2 – some experience"),
    (3, "3 – competent"),
    (4, "4 – very good"),
    (5, "5 – expert"),
]
SKILL_ROWS = 3


def redirect(url: str) -> Response:
    return RedirectResponse(url, status_code=303)


@router.get("/")
async def home(request: Request) -> Response:
    s = session_of(request)
    views = views_of(request)
    opportunities: list[dict[str, Any]] = []
    constituency = None
    if s.signed_in:
        profile = await s.call("GET", "/api/v1/me/profile")
        if profile.ok and isinstance(profile.body, dict):
            constituency = profile.body.get("constituency_code")
            if profile.body.get("skills"):
                found = await s.call("GET", "/api/v1/me/opportunities", params={"limit": "5"})
                if found.ok:
                    opportunities = found.body["items"]
    params = {"status": "open", "limit": "10"}
    if constituency:
        params["constituency"] = constituency
    nearby = await s.call("GET", "/api/v1/requests", params=params)
    requests_near = nearby.body["items"] if nearby.ok else []
    names = await views.reference.constituency_names()
    return views.render(
        request,
        "home.html",
        requests=requests_near,
        opportunities=opportunities,
        constituency=constituency,
        constituency_name=names.get(constituency or "", ""),
        skill_names=await views.reference.skill_names(),
        constituency_names=names,
    )
