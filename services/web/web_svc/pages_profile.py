"""The volunteer profile: where I am, how far I travel, when I am free, what I can do."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from web_svc.apiclient import Problem
from web_svc.forms import DAYS, ProfileForm, profile_errors
from web_svc.views import constituency_choices, session_of, views_of

router = APIRouter()

LEVELS = [
    ("1", "1 – beginner"),
    ("2", "2 – some experience"),
    ("3", "3 – competent"),
    ("4", "4 – very good"),
    ("5", "5 – expert"),
]


@router.get("/fragments/constituencies")
async def constituency_fragment(request: Request) -> Response:
    """The picker's select, narrowed to a search (htmx swaps it in as the person types)."""
    views = views_of(request)
    params = request.query_params
    name = params.get("field", "constituency_code")
    if name not in ("constituency_code", "constituency"):
        name = "constituency_code"
    choices = await constituency_choices(views, params.get("constituency_q", ""), params.get(name, ""))
    return views.render(
        request, "_constituency_select.html", name=name, choices=choices, errors={}, blank="Choose your constituency"
    )


async def _page(request: Request, form: ProfileForm, *, status: int = 200, **extra: Any) -> Response:
    views = views_of(request)
    skills = await views.reference.skills()
    categories: dict[str, list[dict[str, Any]]] = {}
    for s in skills:
        categories.setdefault(s.get("category", "other"), []).append(s)
    return views.render(
        request,
        "profile.html",
        status=status,
        form=form,
        categories=sorted(categories.items()),
        days=DAYS,
        levels=LEVELS,
        choices=await constituency_choices(views, "", form.constituency_code),
        **extra,
    )


@router.get("/me")
async def profile_page(request: Request) -> Response:
    s = session_of(request)
    result = await s.need("GET", "/api/v1/me/profile")
    if not result.ok:
        return await _page(request, ProfileForm(), status=result.status, problem=result.problem)
    return await _page(request, ProfileForm.from_profile(result.body))


@router.post("/me")
async def save_profile(request: Request) -> Response:
    s = session_of(request)
    fields = await s.form()
    views = views_of(request)
    slugs = [sk["slug"] for sk in await views.reference.skills()]
    form = ProfileForm.from_fields(fields, slugs)
    if fields.get("action") == "add-window":
        return await _page(request, form, extra_rows=2)
    current = await s.need("GET", "/api/v1/me/profile")
    notes = {sk["slug"]: sk.get("note", "") for sk in (current.body or {}).get("skills", [])} if current.ok else {}
    body, errors = form.body(notes)
    if errors:
        problem = Problem(422, "There is a problem", "Some answers need another look.", errors)
        return await _page(request, form, status=422, problem=problem, errors=errors)
    result = await s.need("PUT", "/api/v1/me/profile", json=body)
    if result.ok:
        return RedirectResponse("/me?notice=profile-saved", status_code=303)
    problem = result.problem
    errors = profile_errors(problem.errors, body)
    return await _page(request, form, status=result.status, problem=problem, errors=errors)
