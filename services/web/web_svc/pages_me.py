"""My account: details, the linked X account, consents, my data (download, erase), the terms for accounts
made by signing in with X, and the commitments I have made (kept for offline use by the service worker)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from web_svc.apiclient import ApiResult, ApiUnavailable, Problem
from web_svc.session import Session
from web_svc.views import session_of, views_of
from web_svc.wording import consent_wording

log = logging.getLogger(__name__)
router = APIRouter()

# The API answers these while an endpoint does not exist yet.
NOT_BUILT = (404, 405, 501)
NOT_AVAILABLE = (
    "This is not available yet: the service that does it is still being built. Nothing was changed. "
    "Please try again later, or ask an organiser."
)
MAX_COMMITMENTS = 50


def redirect(url: str) -> Response:
    return RedirectResponse(url, status_code=303)


# -- terms: accounts made by signing in with X have not accepted them yet ---------------------------------

TERMS_FREE = ("/me/terms", "/logout", "/static/", "/sw.js", "/manifest.webmanifest", "/offline", "/login")


class TermsKnown:
    """People known to have accepted the terms. Acceptance is never withdrawn (only erased with the account),
    so a yes is kept for the life of the process and each person costs one GET /api/v1/me at most."""

    LIMIT = 50_000

    def __init__(self) -> None:
        self._accepted: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, user_id: object) -> bool:
        return user_id in self._accepted

    def add(self, user_id: str) -> None:
        self._accepted[user_id] = None
        self._accepted.move_to_end(user_id)
        while len(self._accepted) > self.LIMIT:
            self._accepted.popitem(last=False)


async def terms_pending(request: Request, session: Session) -> bool:
    """True when the signed-in person still has to accept the terms (the page then sends them there)."""
    path = request.url.path
    if not session.signed_in or path.startswith(TERMS_FREE):
        return False
    known: TermsKnown = request.app.state.terms_known
    user_id = session.claims.user_id
    if user_id and user_id in known:
        return False
    try:
        me = await session.call("GET", "/api/v1/me")
    except ApiUnavailable:
        return False  # the page itself will say the service is busy
    if not me.ok or not isinstance(me.body, dict):
        return False
    if (me.body.get("consents") or {}).get("terms") is True:
        known.add(str(me.body.get("id")))
        return False
    return True


@router.get("/me/terms")
async def terms_page(request: Request) -> Response:
    s = session_of(request)
    me = await s.need("GET", "/api/v1/me")
    consents = (me.body or {}).get("consents", {}) if me.ok else {}
    form = {"terms": False, "discoverable": bool(consents.get("discoverable")), "contact_by_x": True}
    return views_of(request).render(
        request,
        "terms.html",
        form=form,
        accepted=bool(consents.get("terms")),
        wording=await consent_wording(request),
    )


@router.post("/me/terms")
async def accept_terms(request: Request) -> Response:
    s = session_of(request)
    fields = await s.form()
    form = {
        "terms": fields.get("consents.terms") == "yes",
        "discoverable": fields.get("consents.discoverable") == "yes",
        "contact_by_x": fields.get("consents.contact_by_x") == "yes",
    }
    if not form["terms"]:
        errors = {"consents.terms": "Accept the terms of use to use your account."}
        problem = Problem(422, "There is a problem", "Accept the terms to go on.", errors)
        return views_of(request).render(
            request,
            "terms.html",
            status=422,
            form=form,
            problem=problem,
            errors=errors,
            accepted=False,
            wording=await consent_wording(request),
        )
    result = await s.need("PATCH", "/api/v1/me", json={"consents": form})
    if not result.ok:
        problem = result.problem
        return views_of(request).render(
            request,
            "terms.html",
            status=result.status,
            form=form,
            problem=problem,
            errors={f"consents.{k}" if k in form else k: v for k, v in problem.errors.items()},
            accepted=False,
            wording=await consent_wording(request),
        )
    request.app.state.terms_known.add(str(result.body.get("id")))
    return redirect("/me?notice=terms-accepted")


# -- my account -------------------------------------------------------------------------------------------


async def _account(request: Request, *, status: int = 200, **extra: Any) -> Response:
    s = session_of(request)
    views = views_of(request)
    me = await s.need("GET", "/api/v1/me")
    if not me.ok:
        problem = me.problem
        return views.render(request, "error.html", status=me.status, title=problem.title, message=problem.detail)
    names = await views.reference.constituency_names()
    context: dict[str, Any] = {
        "me": me.body,
        "form": {"display_name": me.body["display_name"], **me.body["consents"]},
        "organises": [(c, names.get(c, c)) for c in me.body.get("organiser_of") or []],
    }
    context.update(extra)
    return views.render(request, "account.html", status=status, **context)


@router.get("/me/account")
async def account_page(request: Request) -> Response:
    return await _account(request)


@router.post("/me/account")
async def save_account(request: Request) -> Response:
    s = session_of(request)
    fields = await s.form()
    form = {
        "display_name": fields.get("display_name", ""),
        "discoverable": fields.get("consents.discoverable") == "yes",
        "contact_by_x": fields.get("consents.contact_by_x") == "yes",
    }
    body = {
        "display_name": form["display_name"],
        "consents": {"discoverable": form["discoverable"], "contact_by_x": form["contact_by_x"]},
    }
    result = await s.need("PATCH", "/api/v1/me", json=body)
    if result.ok:
        return redirect("/me/account?notice=account-saved")
    problem = result.problem
    errors = {f"consents.{k}" if k in ("discoverable", "contact_by_x") else k: v for k, v in problem.errors.items()}
    return await _account(request, status=result.status, form=form, problem=problem, errors=errors)


@router.post("/me/x/unlink")
async def unlink_x(request: Request) -> Response:
    s = session_of(request)
    await s.form()
    result = await s.need("DELETE", "/api/v1/me/x")
    if result.ok or result.status == 404:  # 404: nothing was linked, which is what was asked for
        return redirect("/me/account?notice=x-unlinked")
    return await _account(request, status=result.status, problem=result.problem)


@router.post("/me/account/export")
async def export_my_data(request: Request) -> Response:
    s = session_of(request)
    await s.form()
    result = await s.need("GET", "/api/v1/me/export")
    if result.ok and isinstance(result.body, dict):
        return Response(
            json.dumps(result.body, indent=2, ensure_ascii=False),
            media_type="application/json",
            headers={"Content-Disposition": 'attachment; filename="labour-exchange-my-data.json"'},
        )
    if result.status in NOT_BUILT:
        problem = Problem(result.status, "Download not available yet", NOT_AVAILABLE)
        return await _account(request, status=503, problem=problem)
    return await _account(request, status=_status(result), problem=result.problem)


@router.get("/me/account/delete")
async def delete_page(request: Request) -> Response:
    s = session_of(request)
    me = await s.need("GET", "/api/v1/me")
    if not me.ok:
        return await _account(request)
    return views_of(request).render(request, "account_delete.html", me=me.body, errors={})


@router.post("/me/account/delete")
async def delete_account(request: Request) -> Response:
    s = session_of(request)
    fields = await s.form()
    views = views_of(request)
    me = await s.need("GET", "/api/v1/me")
    if not me.ok:
        return await _account(request)
    if fields.get("confirm") != "yes":
        errors = {"confirm": "Tick the box to confirm, or go back to keep your account."}
        problem = Problem(422, "There is a problem", "Confirm that you want your account deleted.", errors)
        return views.render(request, "account_delete.html", status=422, me=me.body, problem=problem, errors=errors)
    result = await s.need("DELETE", "/api/v1/me")
    if result.ok:
        if s.refresh_token:
            await s.call("POST", "/api/v1/auth/logout", auth=False, json={"refresh_token": s.refresh_token})
        s.sign_out()
        return views.render(request, "goodbye.html", clear_personal=True)
    if result.status in NOT_BUILT:
        problem = Problem(result.status, "Deleting accounts is not available yet", NOT_AVAILABLE)
        return views.render(request, "account_delete.html", status=503, me=me.body, problem=problem, errors={})
    return views.render(
        request, "account_delete.html", status=_status(result), me=me.body, problem=result.problem, errors={}
    )


def _status(result: ApiResult) -> int:
    return result.status if 400 <= result.status < 600 else 502


# -- my commitments (the service worker keeps this page for offline use) ----------------------------------


@router.get("/me/commitments")
async def commitments(request: Request) -> Response:
    s = session_of(request)
    views = views_of(request)
    offers = await s.need("GET", "/api/v1/me/offers", params={"limit": "100"})
    accepted = [o for o in (offers.body["items"] if offers.ok else []) if o.get("status") == "accepted"]
    accepted = accepted[:MAX_COMMITMENTS]
    found = await asyncio.gather(*(s.call("GET", f"/api/v1/requests/{o['request_id']}") for o in accepted))
    items = []
    for offer, got in zip(accepted, found, strict=True):
        detail = got.body if got.ok and isinstance(got.body, dict) else {}
        items.append({"offer": offer, "r": detail})
    items.sort(key=lambda i: (i["r"].get("starts_at") or "9999", i["offer"].get("request_title", "")))
    return views.render(
        request,
        "commitments.html",
        items=items,
        problem=None if offers.ok else offers.problem,
        skill_names=await views.reference.skill_names(),
    )
