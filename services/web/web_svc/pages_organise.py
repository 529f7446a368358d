"""Organisers' and admins' pages: a constituency's dashboard with its pending requests from X, and the
national roll-up."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from web_svc import stats
from web_svc.apiclient import ApiResult
from web_svc.views import session_of, views_of

router = APIRouter()


def _forbidden(request: Request, message: str) -> Response:
    return views_of(request).render(request, "error.html", status=403, title="Not for you", message=message)


def _failed(request: Request, result: ApiResult) -> Response:
    problem = result.problem
    status = result.status if 400 <= result.status < 600 else 502
    return views_of(request).render(request, "error.html", status=status, title=problem.title, message=problem.detail)


def _code(value: str, names: dict[str, str]) -> str:
    code = value.strip().upper()
    if code not in names:
        raise StarletteHTTPException(404)
    return code


@router.get("/organise")
async def organise_index(request: Request) -> Response:
    """The constituencies I organise (from my account, which is always current), one link each."""
    s = session_of(request)
    views = views_of(request)
    me = await s.need("GET", "/api/v1/me")
    if not me.ok:
        return _failed(request, me)
    names = await views.reference.constituency_names()
    codes = me.body.get("organiser_of") or []
    admin = "admin" in (me.body.get("roles") or [])
    if not codes and not admin:
        return _forbidden(request, "Only organisers and admins have organiser pages.")
    seats = sorted(((c, names.get(c, c)) for c in codes), key=lambda pair: pair[1])
    return views.render(request, "organise_index.html", seats=seats, admin=admin)


@router.get("/organise/{code}")
async def organise(request: Request, code: str) -> Response:
    s = session_of(request)
    views = views_of(request)
    names = await views.reference.constituency_names()
    code = _code(code, names)
    figures = await s.need("GET", f"/api/v1/stats/constituencies/{code}")
    if figures.status == 403:
        return _forbidden(request, f"Only organisers of {names[code]} and admins see this page.")
    if not figures.ok:
        return _failed(request, figures)
    pending = await s.need("GET", "/api/v1/requests", params={"status": "pending", "constituency": code, "limit": "50"})
    skill_names = await views.reference.skill_names()
    return views.render(
        request,
        "organise.html",
        code=code,
        name=names[code],
        f=figures.body,
        hours=stats.hours_text,
        pending=pending.body["items"] if pending.ok else [],
        pending_problem=None if pending.ok else pending.problem,
        skill_names=skill_names,
    )


@router.post("/organise/{code}/requests/{request_id}/{decision}")
async def decide_pending(request: Request, code: str, request_id: str, decision: str) -> Response:
    s = session_of(request)
    await s.form()
    names = await views_of(request).reference.constituency_names()
    code = _code(code, names)
    if decision not in ("approve", "reject"):
        raise StarletteHTTPException(404)
    try:
        rid = uuid.UUID(request_id)
    except ValueError:
        raise StarletteHTTPException(404) from None
    result = await s.need("POST", f"/api/v1/requests/{rid}/{decision}")
    if result.status == 403:
        return _forbidden(request, f"Only organisers of {names[code]} and admins decide on its requests.")
    if not result.ok:
        return _failed(request, result)
    notice = "request-approved" if decision == "approve" else "request-rejected"
    return RedirectResponse(f"/organise/{code}?notice={notice}", status_code=303)


@router.get("/national")
async def national(request: Request) -> Response:
    s = session_of(request)
    views = views_of(request)
    result = await s.need("GET", "/api/v1/stats/national")
    if result.status == 403:
        return _forbidden(request, "Only admins see the national figures.")
    if not result.ok:
        return _failed(request, result)
    body: dict[str, Any] = result.body
    sort, direction = stats.sort_choice(request.query_params.get("sort"), request.query_params.get("dir"))
    rows = stats.sort_rows([stats.row_of(c) for c in body.get("constituencies", [])], sort, direction)
    regions = sorted(body.get("regions", []), key=lambda r: (r["nation"], r["region"]))
    chart = stats.stacked_chart([(r["region"], r["requests"]) for r in regions])
    return views.render(
        request,
        "national.html",
        total=body["total"],
        nations=body.get("nations", []),
        regions=regions,
        rows=rows,
        columns=stats.COLUMNS,
        sort=sort,
        direction=direction,
        aria_sort=stats.aria_sort,
        next_direction=stats.next_direction,
        hours=stats.hours_text,
        chart=chart,
        series=stats.SERIES,
    )
