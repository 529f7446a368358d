"""Rendering: the Jinja2 environment (autoescaping everywhere), page context, reference data."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from web_svc.access_log import people_text
from web_svc.apiclient import ApiClient
from web_svc.session import Session

TEMPLATES = Path(__file__).resolve().parent / "templates"

# Messages a redirect may ask the next page to show (by key, so no text travels in a URL).
NOTICES = {
    "signed-up": "Welcome! Your account is ready. Tell us what you can do, so we can find work for you.",
    "signed-in": "You are signed in.",
    "signed-out": "You are signed out.",
    "profile-saved": "Your profile is saved.",
    "request-posted": "Your request is posted. We are looking for people to help.",
    "offer-sent": "Thank you! Your offer is sent to the person who asked.",
    "offer-accepted": "Offer accepted.",
    "offer-declined": "Offer declined.",
    "offer-withdrawn": "Your offer is withdrawn.",
    "invited": "Invitation sent.",
    "request-approved": "Request approved: it is open to supporters now.",
    "request-rejected": "Request rejected.",
    "role-granted": "Role granted. It applies from the person's next sign-in or token refresh (within 15 minutes).",
    "role-revoked": "Role revoked. It stops at the person's next token refresh (within 15 minutes).",
    "x-saved": "X settings saved. They apply from the next poll.",
    "skill-added": "Skill added to the taxonomy.",
    "account-saved": "Your account is saved.",
    "x-linked": "Your X account is linked.",
    "x-unlinked": "Your X account is unlinked.",
    "terms-accepted": "Thank you. Your account is ready.",
}


def make_environment(time_zone: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,  # every template, whatever its name: user text is always escaped
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    zone = ZoneInfo(time_zone)
    env.filters["fid"] = lambda name: str(name).replace(".", "-").replace("_", "-")
    env.filters["when"] = lambda value: format_time(value, zone)
    env.filters["people"] = people_text
    return env


def format_time(value: Any, zone: ZoneInfo) -> str:
    """An API time (RFC 3339) as people in the UK read it: "Sat 2 May 2026, 10:00"."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(zone)
    except ValueError:
        return str(value)
    return f"{moment:%a} {moment.day} {moment:%b %Y, %H:%M}"


class Reference:
    """The constituencies (fixed) and the skill taxonomy (changes rarely), cached in the process."""

    SKILLS_TTL_S = 300.0

    def __init__(self, api: ApiClient) -> None:
        self.api = api
        self._constituencies: list[dict[str, str]] | None = None
        self._skills: list[dict[str, Any]] = []
        self._skills_at = float("-inf")

    async def constituencies(self) -> list[dict[str, str]]:
        if self._constituencies is None:
            result = await self.api.call("GET", "/api/v1/constituencies")
            if not result.ok or not isinstance(result.body, list):
                return []
            self._constituencies = result.body
        return self._constituencies

    async def constituency_names(self) -> dict[str, str]:
        return {c["code"]: c["name"] for c in await self.constituencies()}

    async def skills(self) -> list[dict[str, Any]]:
        if time.monotonic() - self._skills_at > self.SKILLS_TTL_S or not self._skills:
            result = await self.api.call("GET", "/api/v1/skills")
            if result.ok and isinstance(result.body, list):
                self._skills = result.body
                self._skills_at = time.monotonic()
        return self._skills

    def forget_skills(self) -> None:
        """Read the taxonomy again on next use (a skill was just added)."""
        self._skills_at = float("-inf")

    async def skill_names(self) -> dict[str, str]:
        return {s["slug"]: s["name"] for s in await self.skills()}


SEARCH_LIMIT = 50


async def constituency_choices(views: Views, q: str, selected: str) -> dict[str, Any]:
    """What the constituency picker shows: every seat grouped by region, or the matches for `q`."""
    everything = await views.reference.constituencies()
    if q.strip():
        result = await views.reference.api.call("GET", "/api/v1/constituencies", params={"q": q.strip()[:100]})
        found = result.body if result.ok and isinstance(result.body, list) else []
        matches = found[:SEARCH_LIMIT]
        if matches and all(c["code"] != selected for c in matches):
            selected = matches[0]["code"]  # searching means choosing: the best match is chosen
        elif not matches:
            matches = [c for c in everything if c["code"] == selected]
        return {"groups": [("Matches", matches)] if matches else [], "q": q, "selected": selected, "found": len(found)}
    groups: dict[str, list[dict[str, str]]] = {}
    for c in everything:
        groups.setdefault(f"{c['nation']} – {c['region']}" if c["region"] != c["nation"] else c["nation"], []).append(c)
    return {"groups": sorted(groups.items()), "q": "", "selected": selected, "found": len(everything)}


class Views:
    def __init__(self, env: Environment, reference: Reference) -> None:
        self.env = env
        self.reference = reference

    def render(self, request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
        session: Session = request.state.session
        notice_key = request.query_params.get("notice", "")
        base = {
            "csrf": session.csrf,
            "signed_in": session.signed_in,
            "claims": session.claims,
            "path": request.url.path,
            "notice": NOTICES.get(notice_key, ""),
            # Whoever was here before: the service worker's copy of their commitments must go.
            "clear_personal": notice_key in ("signed-in", "signed-out", "signed-up"),
            "problem": None,
            "errors": {},
        }
        base.update(context)
        html = self.env.get_template(template).render(**base)
        return HTMLResponse(html, status_code=status)


def session_of(request: Request) -> Session:
    session: Session = request.state.session
    return session


def views_of(request: Request) -> Views:
    views: Views = request.app.state.views
    return views
