"""Pages about requests: home, browse, ask for help, one request (offers, matches), my offers, for you."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from web_svc.apiclient import Problem
from web_svc.forms import RequestForm
from web_svc.session import SignInNeeded
from web_svc.views import constituency_choices, session_of, views_of

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


def _filters(request: Request) -> dict[str, str]:
    """The browse filters from the page's query string: the same names and values as the API's."""
    q = request.query_params
    status = q.get("status", "open")
    if status not in {v for v, _ in STATUSES}:
        status = "open"
    return {
        "status": status,
        "constituency": q.get("constituency", "").strip()[:16],
        "skill": q.get("skill", "").strip()[:100],
        "q": q.get("q", "").strip()[:200],
    }


@router.get("/requests")
async def browse(request: Request) -> Response:
    s = session_of(request)
    views = views_of(request)
    filters = _filters(request)
    params = {k: v for k, v in filters.items() if v}
    params["limit"] = "20"
    if cursor := request.query_params.get("cursor", "")[:400]:
        params["cursor"] = cursor
    result = await s.call("GET", "/api/v1/requests", params=params)
    items: list[dict[str, Any]] = []
    next_url = None
    problem = None
    if result.ok:
        items = result.body["items"]
        if result.body.get("next_cursor"):
            next_url = "/requests?" + urlencode(
                {**{k: v for k, v in filters.items() if v}, "cursor": result.body["next_cursor"]}
            )
    else:
        problem = result.problem
    skills = await views.reference.skills()
    return views.render(
        request,
        "requests.html",
        status=200 if result.ok else result.status,
        items=items,
        next_url=next_url,
        filters=filters,
        statuses=STATUSES,
        skill_options=[(sk["slug"], sk["name"]) for sk in skills],
        skill_names={sk["slug"]: sk["name"] for sk in skills},
        choices=await constituency_choices(views, "", filters["constituency"]),
        problem=problem,
        errors=problem.errors if problem else {},
        more=bool(cursor),
    )


# -- ask for help -----------------------------------------------------------------------------------------


async def _new_page(request: Request, form: RequestForm, *, status: int = 200, **extra: Any) -> Response:
    views = views_of(request)
    skills = await views.reference.skills()
    return views.render(
        request,
        "request_new.html",
        status=status,
        form=form,
        skill_options=[(sk["slug"], sk["name"]) for sk in skills],
        levels=LEVELS,
        urgencies=URGENCIES,
        choices=await constituency_choices(views, "", form.constituency_code),
        **extra,
    )


@router.get("/requests/new")
async def new_request_page(request: Request) -> Response:
    s = session_of(request)
    if not s.signed_in:
        raise SignInNeeded("/requests/new")
    form = RequestForm()
    profile = await s.need("GET", "/api/v1/me/profile")
    if profile.ok and isinstance(profile.body, dict):
        form.constituency_code = profile.body.get("constituency_code") or ""
    return await _new_page(request, form)


@router.post("/requests/new")
async def post_request(request: Request) -> Response:
    s = session_of(request)
    fields = await s.form()
    form = RequestForm.from_fields(fields)
    if fields.get("action") == "add-skill":
        return await _new_page(request, form, extra_rows=2)
    zone = ZoneInfo(request.app.state.time_zone)
    body, errors = form.body(zone)
    if errors:
        problem = Problem(422, "There is a problem", "Some answers need another look.", errors)
        return await _new_page(request, form, status=422, problem=problem, errors=errors)
    result = await s.need("POST", "/api/v1/requests", json=body)
    if result.ok:
        return redirect(f"/requests/{result.body['id']}?notice=request-posted")
    problem = result.problem
    return await _new_page(request, form, status=result.status, problem=problem, errors=problem.errors)


# -- one request ------------------------------------------------------------------------------------------


def _request_id(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise StarletteHTTPException(404) from None


async def _detail(request: Request, request_id: str, *, status: int = 200, **extra: Any) -> Response:
    s = session_of(request)
    views = views_of(request)
    found = await s.call("GET", f"/api/v1/requests/{request_id}")
    if found.status == 404 or found.status == 422:
        raise StarletteHTTPException(404)
    if not found.ok:
        return views.render(
            request, "error.html", status=found.status, title=found.problem.title, message=found.problem.detail
        )
    item = found.body
    me = s.claims.user_id
    owner = bool(me) and item.get("created_by") == me
    manager = owner or "admin" in s.claims.roles or item["constituency_code"] in s.claims.organiser_of
    offers: list[dict[str, Any]] = []
    matches: list[dict[str, Any]] = []
    if s.signed_in:
        got = await s.call("GET", f"/api/v1/requests/{request_id}/offers", params={"limit": "100"})
        if got.ok:
            offers = got.body["items"]
        if manager and item["status"] == "open":
            ranked = await s.call("GET", f"/api/v1/requests/{request_id}/matches", params={"limit": "10"})
            if ranked.ok:
                matches = ranked.body["items"]
    mine = [o for o in offers if o.get("user_id") == me]
    live_mine = [o for o in mine if o["status"] in ("pending", "accepted")]
    skills = await views.reference.skills()
    names = {sk["slug"]: sk["name"] for sk in skills}
    context: dict[str, Any] = {
        "r": item,
        "owner": owner,
        "manager": manager,
        "offers": offers,
        "mine": mine,
        "can_offer": s.signed_in and not owner and item["status"] == "open" and not live_mine,
        "matches": matches,
        "skill_names": names,
        "offer_skills": [(sk["slug"], names.get(sk["slug"], sk["slug"])) for sk in item["skills"]],
        "offer_form": {"message": "", "skill": ""},
    }
    context.update(extra)
    return views.render(request, "request_detail.html", status=status, **context)


@router.get("/requests/{request_id}")
async def request_page(request: Request, request_id: str) -> Response:
    return await _detail(request, _request_id(request_id))


@router.post("/requests/{request_id}/offers")
async def make_offer(request: Request, request_id: str) -> Response:
    rid = _request_id(request_id)
    s = session_of(request)
    fields = await s.form()
    offer_form = {"message": fields.get("message", ""), "skill": fields.get("skill", "")}
    body: dict[str, Any] = {"message": offer_form["message"].strip()}
    if offer_form["skill"]:
        body["skill"] = offer_form["skill"]
    result = await s.need("POST", f"/api/v1/requests/{rid}/offers", json=body)
    if result.ok:
        return redirect(f"/requests/{rid}?notice=offer-sent")
    problem = result.problem
    return await _detail(
        request, rid, status=result.status, problem=problem, errors=problem.errors, offer_form=offer_form
    )


@router.post("/requests/{request_id}/offers/{offer_id}/{decision}")
async def decide_offer(request: Request, request_id: str, offer_id: str, decision: str) -> Response:
    rid, oid = _request_id(request_id), _request_id(offer_id)
    if decision not in ("accept", "decline", "withdraw"):
        raise StarletteHTTPException(404)
    s = session_of(request)
    fields = await s.form()
    result = await s.need("POST", f"/api/v1/requests/{rid}/offers/{oid}/{decision}")
    done = {"accept": "offer-accepted", "decline": "offer-declined", "withdraw": "offer-withdrawn"}[decision]
    if result.ok:
        back = "/me/offers" if fields.get("back") == "/me/offers" else f"/requests/{rid}"
        return redirect(f"{back}?notice={done}")
    return await _detail(request, rid, status=result.status, problem=result.problem)


@router.post("/requests/{request_id}/invitations")
async def invite(request: Request, request_id: str) -> Response:
    rid = _request_id(request_id)
    s = session_of(request)
    fields = await s.form()
    result = await s.need("POST", f"/api/v1/requests/{rid}/invitations", json={"user_id": fields.get("user_id", "")})
    if result.ok:
        return redirect(f"/requests/{rid}?notice=invited")
    return await _detail(request, rid, status=result.status, problem=result.problem)


# -- mine -------------------------------------------------------------------------------------------------


@router.get("/me/opportunities")
async def opportunities(request: Request) -> Response:
    s = session_of(request)
    views = views_of(request)
    params = {"limit": "20"}
    if cursor := request.query_params.get("cursor", "")[:400]:
        params["cursor"] = cursor
    result = await s.need("GET", "/api/v1/me/opportunities", params=params)
    profile = await s.need("GET", "/api/v1/me/profile")
    has_profile = profile.ok and bool((profile.body or {}).get("skills"))
    items = result.body["items"] if result.ok else []
    next_cursor = result.body.get("next_cursor") if result.ok else None
    return views.render(
        request,
        "opportunities.html",
        items=items,
        has_profile=has_profile,
        next_url=f"/me/opportunities?{urlencode({'cursor': next_cursor})}" if next_cursor else None,
        constituency_names=await views.reference.constituency_names(),
        problem=None if result.ok else result.problem,
    )


@router.get("/me/offers")
async def my_offers(request: Request) -> Response:
    s = session_of(request)
    views = views_of(request)
    offers = await s.need("GET", "/api/v1/me/offers", params={"limit": "100"})
    invitations = await s.need("GET", "/api/v1/me/invitations", params={"limit": "100"})
    return views.render(
        request,
        "my_offers.html",
        offers=offers.body["items"] if offers.ok else [],
        invitations=invitations.body["items"] if invitations.ok else [],
        problem=None if offers.ok and invitations.ok else (offers if not offers.ok else invitations).problem,
        skill_names=await views.reference.skill_names(),
    )
