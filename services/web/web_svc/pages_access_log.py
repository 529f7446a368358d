"""What I looked at: the access log of my own looks at and changes to other people's data, and an admin's view
of anyone's (ADR 13). Both read the API's merged, newest-first log and page with its cursor."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response

from web_svc import access_log
from web_svc.apiclient import ApiResult, Problem
from web_svc.session import SignInNeeded
from web_svc.views import session_of, views_of

router = APIRouter()

PAGE_SIZE = 20
MAX_CURSOR = 400  # the API's own limit


def _cursor(request: Request) -> str:
    return request.query_params.get("cursor", "")[:MAX_CURSOR]


def _failed(request: Request, result: ApiResult) -> Response:
    problem = result.problem
    if result.status == 422:
        # The only thing a person can get wrong here is an old or edited "More" link.
        problem = Problem(422, "This list has moved on", "That link is too old. Start again from the newest entries.")
    status = result.status if 400 <= result.status < 600 else 502
    response = views_of(request).render(
        request, "error.html", status=status, title=problem.title, message=problem.detail
    )
    if retry := result.headers.get("retry-after"):
        response.headers["Retry-After"] = retry
    return response


def _forbidden(request: Request) -> Response:
    return views_of(request).render(
        request,
        "error.html",
        status=403,
        title="Not for you",
        message="Only admins can read other people's access logs.",
    )


@router.get("/me/account/access-log")
async def my_access_log(request: Request) -> Response:
    s = session_of(request)
    params = {"limit": str(PAGE_SIZE)}
    if cursor := _cursor(request):
        params["cursor"] = cursor
    result = await s.need("GET", "/api/v1/me/access-log", params=params)
    if not result.ok:
        return _failed(request, result)
    next_cursor = access_log.next_cursor_of(result.body)
    return views_of(request).render(
        request,
        "access_log.html",
        admin_view=False,
        entries=access_log.entries_of(result.body),
        later_page=bool(cursor),
        next_url=f"/me/account/access-log?{urlencode({'cursor': next_cursor})}" if next_cursor else None,
    )


@router.get("/admin/access-log")
async def admin_access_log(request: Request) -> Response:
    s = session_of(request)
    if not s.signed_in:
        raise SignInNeeded(s.here())
    typed = request.query_params.get("actor", "")[:100]
    context: dict[str, Any] = {
        "admin_view": True,
        "actor": typed,
        "entries": [],
        "later_page": False,
        "next_url": None,
        "shown": False,
    }
    if "actor" not in request.query_params:
        if "admin" not in s.claims.roles:
            return _forbidden(request)
        return views_of(request).render(request, "access_log.html", **context)
    actor, error = access_log.actor_of(typed)
    if actor is None:
        if "admin" not in s.claims.roles:
            return _forbidden(request)
        errors = {"actor": error or "Enter the person's user id."}
        problem = Problem(422, "There is a problem", "Check the user id.", errors)
        return views_of(request).render(
            request, "access_log.html", status=422, problem=problem, errors=errors, **context
        )
    params = {"actor": actor, "limit": str(PAGE_SIZE)}
    if cursor := _cursor(request):
        params["cursor"] = cursor
    result = await s.need("GET", "/api/v1/admin/access-log", params=params)
    if result.status == 403:
        return _forbidden(request)
    if not result.ok:
        return _failed(request, result)
    next_cursor = access_log.next_cursor_of(result.body)
    context.update(
        actor=actor,
        shown=True,
        entries=access_log.entries_of(result.body),
        later_page=bool(cursor),
        next_url=f"/admin/access-log?{urlencode({'actor': actor, 'cursor': next_cursor})}" if next_cursor else None,
    )
    return views_of(request).render(request, "access_log.html", **context)
