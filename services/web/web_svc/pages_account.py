"""Signing up, in and out: email and password, or with X (through the API's X endpoints)."""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from web_svc.apiclient import ApiResult, Problem, TokenPair
from web_svc.security import safe_next
from web_svc.session import Session, SignInNeeded
from web_svc.views import session_of, views_of
from web_svc.wording import consent_wording

router = APIRouter()

X_STATE_COOKIE = "lx_xstate"


def redirect(url: str) -> Response:
    return RedirectResponse(url, status_code=303)


def with_notice(path: str, notice: str) -> str:
    return path + ("&" if "?" in path else "?") + f"notice={notice}"


def pair_of(result: ApiResult) -> TokenPair | None:
    body = result.body
    if not result.ok or not isinstance(body, dict):
        return None
    if not isinstance(body.get("access_token"), str) or not isinstance(body.get("refresh_token"), str):
        return None
    expires_in = body.get("expires_in")
    return TokenPair(
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
        expires_in=expires_in if isinstance(expires_in, int) else 900,
    )


# -- sign up ---------------------------------------------------------------------------------------


@router.get("/signup")
async def signup_page(request: Request) -> Response:
    return views_of(request).render(
        request,
        "signup.html",
        form={"email": "", "display_name": "", "discoverable": True, "contact_by_x": False, "terms": False},
        next=safe_next(request.query_params.get("next"), "/me"),
        wording=await consent_wording(request),
    )


@router.post("/signup")
async def signup(request: Request) -> Response:
    s = session_of(request)
    fields = await s.form()
    next_path = safe_next(fields.get("next"), "/me")
    form: dict[str, Any] = {
        "email": fields.get("email", "").strip(),
        "display_name": fields.get("display_name", ""),
        "terms": fields.get("consents.terms") == "yes",
        "discoverable": fields.get("consents.discoverable") == "yes",
        "contact_by_x": fields.get("consents.contact_by_x") == "yes",
    }
    result = await s.call(
        "POST",
        "/api/v1/auth/register",
        auth=False,
        json={
            "email": form["email"],
            "password": fields.get("password", ""),
            "display_name": form["display_name"],
            "consents": {
                "terms": form["terms"],
                "discoverable": form["discoverable"],
                "contact_by_x": form["contact_by_x"],
            },
        },
    )
    if result.ok:
        signed = await s.call(
            "POST",
            "/api/v1/auth/token",
            auth=False,
            json={"email": form["email"], "password": fields.get("password", "")},
        )
        pair = pair_of(signed)
        if pair is not None:
            s.sign_in(pair)
            return redirect(with_notice(next_path, "signed-up"))
        return redirect(with_notice("/login", "signed-up"))
    problem = result.problem
    return views_of(request).render(
        request,
        "signup.html",
        status=problem.status if 400 <= problem.status < 500 else 422,
        form=form,
        problem=problem,
        errors=problem.errors,
        next=next_path,
        wording=await consent_wording(request),
    )


# -- sign in ---------------------------------------------------------------------------------------


@router.get("/login")
async def login_page(request: Request) -> Response:
    return views_of(request).render(request, "login.html", email="", next=safe_next(request.query_params.get("next")))


@router.post("/login")
async def login(request: Request) -> Response:
    s = session_of(request)
    fields = await s.form()
    email = fields.get("email", "").strip()
    next_path = safe_next(fields.get("next"))
    result = await s.call(
        "POST", "/api/v1/auth/token", auth=False, json={"email": email, "password": fields.get("password", "")}
    )
    pair = pair_of(result)
    if pair is not None:
        s.sign_in(pair)
        return redirect(with_notice(next_path, "signed-in"))
    problem = result.problem
    if result.status == 401:
        problem = Problem(401, "Could not sign you in", "The email or password is wrong. Check them and try again.")
    elif result.status == 422:
        problem = Problem(422, "Could not sign you in", "Enter your email address and your password.", problem.errors)
    response = views_of(request).render(
        request,
        "login.html",
        status=problem.status if 400 <= problem.status < 500 else 422,
        email=email,
        next=next_path,
        problem=problem,
        errors=problem.errors,
    )
    if retry := result.headers.get("retry-after"):
        response.headers["Retry-After"] = retry
    return response


# -- sign out --------------------------------------------------------------------------------------


@router.get("/logout")
async def logout_page(request: Request) -> Response:
    return views_of(request).render(request, "logout.html")


@router.post("/logout")
async def logout(request: Request) -> Response:
    s = session_of(request)
    form = await s.form()
    if s.refresh_token:
        # Best effort: the cookies go whatever the API says, so the browser is signed out either way.
        body = {"refresh_token": s.refresh_token, "everywhere": form.get("everywhere") == "yes"}
        await s.call("POST", "/api/v1/auth/logout", auth=False, json=body)
    s.sign_out()
    return redirect("/?notice=signed-out")


# -- sign in with X --------------------------------------------------------------------------------


def origin_of(request: Request) -> str:
    """This site's public origin, as the gateway saw it (it sets X-Forwarded-Host/Proto itself)."""
    host = request.headers.get("x-forwarded-host") or request.headers.get("host") or "127.0.0.1:8000"
    proto = request.headers.get("x-forwarded-proto") or request.url.scheme
    return f"{proto}://{host}"


@router.get("/login/x")
async def login_with_x(request: Request) -> Response:
    """Start signing in with X (`mode=login`, anyone) or linking X to my account (`mode=link`, signed in)."""
    s = session_of(request)
    mode = "link" if request.query_params.get("mode") == "link" else "login"
    if mode == "link" and not s.signed_in:
        raise SignInNeeded("/me/account")
    result = await s.call(
        "GET",
        "/api/v1/auth/x/authorize",
        auth=mode == "link",
        params={"mode": mode, "redirect_uri": origin_of(request) + "/login/x/callback"},
    )
    if mode == "link" and result.status == 401:
        raise SignInNeeded("/me/account")
    location = result.headers.get("location")
    if result.status not in (301, 302, 303, 307) or not location:
        return _x_failed(request, result, mode)
    response = RedirectResponse(location, status_code=303)
    # Bind the OAuth state to this browser, so nobody can finish their own sign-in in someone else's browser.
    state = (parse_qs(urlsplit(location).query).get("state") or [""])[0]
    if state:
        response.set_cookie(
            X_STATE_COOKIE,
            f"{mode}:{state}",
            max_age=600,
            path="/login/x",
            httponly=True,
            secure=request.app.state.cookie_secure,
            samesite="lax",
        )
    return response


@router.get("/login/x/callback")
async def login_with_x_done(request: Request) -> Response:
    s: Session = session_of(request)
    code = request.query_params.get("code", "")
    state = request.query_params.get("state", "")
    mode, _, expected = request.cookies.get(X_STATE_COOKIE, "").rpartition(":")
    mode = "link" if mode == "link" else "login"
    if request.query_params.get("error"):
        title = "Linking X was cancelled" if mode == "link" else "Sign-in with X was cancelled"
        problem = Problem(400, title, "X did not confirm it. You can try again.")
        return _x_page(request, problem, mode)
    if not code or not state or not expected or not hmac.compare_digest(state.encode(), expected.encode()):
        problem = Problem(
            400,
            "Sign-in with X did not finish",
            "This sign-in link is not from this browser, or it is too old. Start again from the sign-in page.",
        )
        return _x_page(request, problem, mode)
    result = await s.call("GET", "/api/v1/auth/x/callback", auth=False, params={"code": code, "state": state})
    pair = pair_of(result)
    if result.status == 200 and pair is not None:
        s.sign_in(pair)
        response = redirect("/?notice=signed-in")
    elif result.status == 200 and isinstance(result.body, dict) and result.body.get("x_account"):
        response = redirect("/me/account?notice=x-linked")
    else:
        return _x_failed(request, result, mode)
    response.delete_cookie(X_STATE_COOKIE, path="/login/x")
    return response


def _x_failed(request: Request, result: ApiResult, mode: str) -> Response:
    problem = result.problem
    if result.ok or 300 <= result.status < 400:
        problem = Problem(502, "Sign-in with X did not work", "We could not finish signing you in with X. Try again.")
    return _x_page(request, problem, mode)


def _x_page(request: Request, problem: Problem, mode: str) -> Response:
    status = problem.status if 400 <= problem.status < 600 else 502
    if mode == "link":
        return views_of(request).render(
            request, "error.html", status=status, title=problem.title, message=problem.detail
        )
    return views_of(request).render(request, "login.html", status=status, email="", next="/", problem=problem)
