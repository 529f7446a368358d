"""The admin's page: people and their roles, X settings and status, supporter import, the skill taxonomy."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from web_svc.apiclient import Problem
from web_svc.forms import (
    SkillForm,
    XSettingsForm,
    constituency_code_of,
    skill_errors,
    x_settings_errors,
)
from web_svc.views import session_of, views_of

router = APIRouter()

USERS_SHOWN = 10
MAX_CSV_BYTES = 1_000_000


def _forbidden(request: Request) -> Response:
    return views_of(request).render(
        request, "error.html", status=403, title="Not for you", message="Only admins can use the admin page."
    )


async def _page(request: Request, *, status: int = 200, **overrides: Any) -> Response:
    """The admin page; the sections a failed form belongs to come in `overrides` as typed."""
    s = session_of(request)
    views = views_of(request)
    x = await s.need("GET", "/api/v1/admin/x")
    if x.status == 403:
        return _forbidden(request)
    email = request.query_params.get("email", "").strip()[:254]
    if "email" in overrides:
        email = overrides.pop("email")
    users: list[dict[str, Any]] = []
    users_problem = None
    if email:
        found = await s.need("GET", "/api/v1/admin/users", params={"email": email, "limit": str(USERS_SHOWN)})
        if found.ok:
            users = found.body["items"]
        else:
            users_problem = found.problem
    skills = await views.reference.skills()
    constituencies = await views.reference.constituencies()
    context: dict[str, Any] = {
        "email": email,
        "users": users,
        "users_problem": users_problem,
        "role_problem": None,
        "role_user": None,
        "role_form": {"role": "organiser", "constituency": ""},
        "x": x.body if x.ok else None,
        "x_problem": None if x.ok else x.problem,
        "x_form": XSettingsForm.from_settings(x.body["settings"]) if x.ok else XSettingsForm(),
        "x_errors": {},
        "import_problem": None,
        "import_errors": {},
        "skill_form": SkillForm(),
        "skill_errors": {},
        "skill_problem": None,
        "categories": sorted({sk.get("category", "") for sk in skills if sk.get("category")}),
        "constituencies": constituencies,
        "constituency_names": {c["code"]: c["name"] for c in constituencies},
    }
    context.update(overrides)
    return views.render(request, "admin.html", status=status, **context)


@router.get("/admin")
async def admin_page(request: Request) -> Response:
    return await _page(request)


# -- roles ------------------------------------------------------------------------------------------------


@router.post("/admin/roles")
async def change_role(request: Request) -> Response:
    s = session_of(request)
    fields = await s.form()
    views = views_of(request)
    email = fields.get("email", "").strip()[:254]
    action = "revoke" if fields.get("action") == "revoke" else "grant"
    role = "admin" if fields.get("role") == "admin" else "organiser"
    typed = fields.get("constituency", "")
    try:
        user_id = str(uuid.UUID(fields.get("user_id", "")))
    except ValueError:
        return await _page(
            request, status=422, email=email, role_problem=Problem(422, "No such user", "Find the person again.")
        )
    body: dict[str, Any] = {"role": role}
    if role == "organiser":
        code = constituency_code_of(typed, await views.reference.constituencies())
        if code is None:
            problem = Problem(
                422,
                "There is a problem",
                "Choose a constituency.",
                {"constituency": "Choose a constituency from the list."},
            )
            return await _page(
                request,
                status=422,
                email=email,
                role_problem=problem,
                role_user=user_id,
                role_form={"role": role, "constituency": typed},
            )
        body["constituency_code"] = code
    result = await s.need("POST" if action == "grant" else "DELETE", f"/api/v1/admin/users/{user_id}/roles", json=body)
    if result.status == 403:
        return _forbidden(request)
    if result.ok:
        notice = "role-granted" if action == "grant" else "role-revoked"
        return RedirectResponse("/admin?" + urlencode({"email": email, "notice": notice}) + "#users", status_code=303)
    problem = result.problem
    errors = {"constituency" if k == "constituency_code" else k: v for k, v in problem.errors.items()}
    return await _page(
        request,
        status=result.status,
        email=email,
        role_problem=Problem(problem.status, problem.title, problem.detail, errors),
        role_user=user_id,
        role_form={"role": role, "constituency": typed},
    )


# -- X ----------------------------------------------------------------------------------------------------


@router.post("/admin/x")
async def save_x_settings(request: Request) -> Response:
    s = session_of(request)
    fields = await s.form()
    form = XSettingsForm.from_fields(fields)
    body, errors = form.body()
    if errors:
        problem = Problem(422, "There is a problem", "Some settings need another look.", errors)
        return await _page(request, status=422, x_form=form, x_errors=errors, x_problem=problem)
    result = await s.need("PUT", "/api/v1/admin/x", json=body)
    if result.status == 403:
        return _forbidden(request)
    if result.ok:
        return RedirectResponse("/admin?notice=x-saved#x", status_code=303)
    problem = result.problem
    errors = x_settings_errors(problem.errors)
    shown = Problem(problem.status, problem.title, problem.detail, errors)
    return await _page(request, status=result.status, x_form=form, x_errors=errors, x_problem=shown)


# -- supporter import -------------------------------------------------------------------------------------


@router.post("/admin/import")
async def import_supporters(request: Request) -> Response:
    s = session_of(request)
    _, files = await s.upload()
    views = views_of(request)
    filename, data = files.get("file", ("", b""))
    if not filename or not data.strip():
        problem = Problem(422, "There is a problem", "Choose a CSV file to import.", {"file": "Choose a CSV file."})
        return await _page(request, status=422, import_problem=problem, import_errors=problem.errors)
    result = await s.need("POST", "/api/v1/admin/imports/supporters", content=data, content_type="text/csv")
    if result.status == 403:
        return _forbidden(request)
    if not result.ok:
        problem = result.problem
        message = next(iter(problem.errors.values()), problem.detail)
        shown = Problem(problem.status, "The file was not imported", problem.detail, {"file": message})
        return await _page(request, status=result.status, import_problem=shown, import_errors=shown.errors)
    return views.render(request, "admin_import.html", report=result.body, filename=filename)


# -- skills -----------------------------------------------------------------------------------------------


@router.post("/admin/skills")
async def add_skill(request: Request) -> Response:
    s = session_of(request)
    fields = await s.form()
    views = views_of(request)
    form = SkillForm.from_fields(fields)
    result = await s.need("POST", "/api/v1/skills", json=form.body())
    if result.status == 403:
        return _forbidden(request)
    if result.ok:
        views.reference.forget_skills()
        return RedirectResponse("/admin?notice=skill-added#skills", status_code=303)
    problem = result.problem
    errors = skill_errors(problem.errors)
    if result.status == 409 and not errors:
        errors = {"slug": problem.detail}
    shown = Problem(problem.status, problem.title, problem.detail, errors)
    return await _page(request, status=result.status, skill_form=form, skill_errors=errors, skill_problem=shown)
